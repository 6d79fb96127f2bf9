# frozen_string_literal: true

# One request core of the Rack worker: an IO.select loop over the shared listening sockets and this core's own
# connections (core 0 also watches the life pipe and the signal wake pipe). Owns accept, the per-connection buffers,
# keep-alive, idle timeouts, the graceful drain and the request log line.
module Kaiser
  STOP_GRACE = 0.5

  # A client connection of a core.
  class Conn
    attr_accessor :buf, :pending, :pos, :length, :chunked, :last, :fresh
    attr_reader :io, :listener, :remote, :rport

    def initialize(io, listener, remote, rport, timeout)
      @io = io
      @listener = listener
      @remote = remote
      @rport = rport
      @timeout = timeout
      @buf = String.new
      @last = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      @fresh = true # accepted, no request read yet
    end

    def template
      @listener.template
    end

    # Writes all of data, waiting for the socket (at most socket-timeout per stall).
    def write_all(data)
      loop do
        n = @io.write_nonblock(data, exception: false)
        if n == :wait_writable
          raise IOError, 'write timeout' unless @io.wait_writable(@timeout)
          next
        end
        return if n >= data.bytesize
        data = data.byteslice(n, data.bytesize - n)
      end
    end
  end

  class Core
    def initialize(worker, index, app)
      @w = worker
      @index = index
      @app = app
      @conns = {}
      @logbuf = String.new
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def accept_one(listener)
      sock, addr = listener.sock.accept_nonblock(exception: false)
      return false if sock == :wait_readable || sock.nil?
      sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1) if listener.tcp
      remote, rport = addr.ip? ? [addr.ip_address, addr.ip_port.to_s] : ['', '']
      @conns[sock] = Conn.new(sock, listener, remote, rport, @w.timeout)
      true
    rescue IOError, SystemCallError
      false
    end

    def close(conn)
      @conns.delete(conn.io)
      conn.io.close unless conn.io.closed?
    end

    def run(life)
      next_sweep = now + 1
      loop do
        readers = @conns.keys
        readers.concat(@w.listeners.map(&:sock)) if accepting?
        if life
          readers << life
          readers << @w.wake_r
        end
        ready = IO.select(readers, nil, nil, @logbuf.empty? && !@w.stopping ? 1.0 : 0.1)
        ready&.first&.each do |io|
          if (conn = @conns[io])
            on_readable(conn)
          elsif io.equal?(life)
            flush_log
            @w.master_gone
          elsif io.equal?(@w.wake_r)
            @w.on_wake
          elsif !@w.stopping
            listener = @w.listeners.find { |l| l.sock.equal?(io) }
            accept_one(listener) if listener
          end
        end
        flush_log if !@logbuf.empty? && (ready.nil? || @logbuf.bytesize > 3072)
        t = now
        next unless @w.stopping || t >= next_sweep
        next_sweep = t + 1
        @conns.values.each do |c|
          idle = t - (@w.stopping && c.last < @w.stop_time ? @w.stop_time : c.last)
          close(c) if (@w.stopping && c.buf.empty? && idle >= STOP_GRACE) || idle >= @w.timeout
        end
        break if @w.stopping && @conns.empty?
      end
      flush_log
    rescue IOError, Errno::EBADF
      retry unless @w.stopping && @conns.empty?
      flush_log
    end

    private

    # With several request threads, a thread takes no new connection while one it accepted has not brought its
    # request yet: otherwise it could hold two fresh connections and make the second wait behind the first one's app
    # call while another thread is idle.
    def accepting?
      return false if @w.stopping
      @w.threads == 1 || @conns.each_value.none?(&:fresh)
    end

    def flush_log
      return if @logbuf.empty?
      @w.log(@logbuf)
      @logbuf = String.new
    end

    def on_readable(conn)
      data = conn.io.read_nonblock(65_536, exception: false)
      return if data == :wait_readable
      if data.nil?
        close(conn)
        return
      end
      conn.buf << data
      conn.last = now
      until conn.buf.empty?
        req = conn.listener.uwsgi ? Parser.parse_uwsgi(conn, @w.bufsize) : Parser.parse_http(conn, @w.bufsize)
        return unless req
        if req.is_a?(Reject)
          reject(conn, req.status)
          return
        end
        conn.fresh = false
        req.keepalive = false if @w.stopping
        keep = serve(conn, req)
        conn.last = now
        unless keep
          close(conn)
          return
        end
        return unless @conns.key?(conn.io)
      end
    rescue SystemCallError, IOError
      @w.sb.read_error(@index)
      close(conn)
    end

    def reject(conn, status)
      if status.start_with?(/\d/)
        body = status[4..]
        begin
          conn.write_all("HTTP/1.1 #{status}\r\nContent-Type: text/plain\r\nContent-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}")
        rescue IOError, SystemCallError
          nil
        end
      end
      @w.log("rejected request from #{conn.remote.empty? ? 'unix' : conn.remote} (#{status})")
      close(conn)
    end

    def serve(conn, req)
      n = @w.count_request
      req.keepalive = false if @w.stopping
      env = req.env
      env['rack.multiprocess'] = @w.multiprocess
      env['uwsgi.core'] = @index
      started = Time.now.to_f
      t0 = now
      @w.sb.begin_request(@index, started)
      responder = Responder.new(conn, req, @w.timeout, ->(line) { @w.log(line) })
      responder.run(@app)
      micros = ((now - t0) * 1_000_000).to_i
      @w.sb.end_request(@index, micros, responder.head_bytes + responder.body_bytes, responder.exception, responder.write_error)
      request_log(n, env, req, responder, started, micros) if @w.logging
      responder.keepalive?
    end

    def request_log(n, env, req, r, started, micros)
      @logbuf << format("[pid: %<pid>d|app: 0|req: %<n>d/%<n>d] %<ip>s () {%<vars>d vars in %<hb>d bytes} [%<when>s] %<m>s %<uri>s => generated %<bb>d bytes in %<ms>d msecs (%<proto>s %<st>d) %<hc>d headers in %<rhb>d bytes (1 switches on core %<core>d)\n",
                        pid: Process.pid, n: n, ip: env['REMOTE_ADDR'], vars: req.vars, hb: req.head_bytes,
                        when: Time.at(started).strftime('%a %b %e %H:%M:%S %Y').sub('  ', ' '), m: env['REQUEST_METHOD'],
                        uri: env['REQUEST_URI'], bb: r.body_bytes, ms: micros / 1000, proto: req.proto, st: r.status,
                        hc: r.header_count, rhb: r.head_bytes, core: @index)
      flush_log if @logbuf.bytesize > 65_536
    end
  end
end
