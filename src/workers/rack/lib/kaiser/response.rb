# frozen_string_literal: true

# Calling the Rack app for one request and writing its response: Array bodies (one write with Content-Length),
# other bodies streamed with `each` (chunked on HTTP/1.1, close otherwise), `to_path` bodies sent from the file,
# `close` called once, multi-line header values as repeated headers (Rack 2's Set-Cookie convention), HEAD and
# bodiless statuses, a 500 for an app that raises or returns garbage, the scoreboard and the request log.
module Kaiser
  class Responder
    # The reason phrases: the table the PSGI worker reads too (../shared/http-reasons.txt beside the workers).
    REASONS = File.foreach(File.expand_path('../../../shared/http-reasons.txt', __dir__)).each_with_object({}) do |line, table|
      table[Integer(Regexp.last_match(1), 10)] = Regexp.last_match(2) if line =~ /\A(\d{3}) (.+?)\s*\z/
    end.freeze
    STATUS_LINES = Hash.new { |h, k| h[k] = " #{k} #{REASONS[k] || 'Unknown'}\r\n".freeze }
    FRAMING = %w[content-length transfer-encoding].freeze

    class ClientGone < StandardError; end

    attr_reader :status, :header_count, :head_bytes, :body_bytes, :exception, :write_error

    def initialize(conn, req, timeout, log)
      @conn = conn
      @req = req
      @timeout = timeout
      @log = log
      @keep = req.keepalive
      @http = !req.uwsgi
      @head_only = req.env['REQUEST_METHOD'] == 'HEAD'
      @status = 0
      @header_count = @head_bytes = @body_bytes = 0
      @exception = @write_error = false
      @sent = false
    end

    def keepalive?
      @keep && !@write_error
    end

    # Runs the app and writes its answer; never raises.
    def run(app)
      result = nil
      begin
        result = app.call(@req.env)
        unless result.is_a?(Array) && result.size == 3
          raise TypeError, "the app returned #{result.class}, not [status, headers, body]"
        end
        status, headers, body = result
        status = Integer(status)
        raise TypeError, "bad status #{status}" unless (100..999).cover?(status)
        write_response(status, headers, body)
      rescue ClientGone
        @keep = false
      rescue Exception => e # the worker outlives any app error
        raise if e.is_a?(SystemExit) || e.is_a?(SignalException)
        fail_with(e)
      ensure
        if result.is_a?(Array) && result[2].respond_to?(:close)
          begin
            result[2].close
          rescue StandardError => e
            log_exception(e)
          end
        end
      end
    end

    private

    def log_exception(err)
      @exception = true
      bt = (err.backtrace || []).first(10).map { |l| "  #{l}" }.join("\n")
      @log.call("[rack] exception in #{@req.env['REQUEST_METHOD']} #{@req.env['REQUEST_URI']} (pid: #{Process.pid}): #{err.class}: #{err.message}\n#{bt}")
    end

    def fail_with(err)
      log_exception(err)
      if @sent
        @keep = false # half a response went out: only closing tells the client
        return
      end
      @keep = false
      begin
        write_response(500, {'Content-Type' => 'text/plain'}, ['Internal Server Error'])
      rescue ClientGone
        nil
      end
    end

    def head(status, headers, length)
      has_len = false
      out = String.new(@req.proto, capacity: 256) << STATUS_LINES[status]
      n = 0
      headers.each do |k, v|
        k = k.to_s
        lk = k.downcase
        has_len = true if FRAMING.include?(lk)
        v = v.join("\n") if v.is_a?(Array)
        @keep = false if lk == 'connection' && v.to_s.downcase == 'close'
        v.to_s.split("\n").each do |line|
          out << k << ': ' << line << "\r\n"
          n += 1
        end
      end
      @header_count = n
      @status = status
      @no_body = status < 200 || status == 204 || status == 304 || @head_only
      if @http
        if !has_len && !(status < 200 || status == 204 || status == 304)
          if length
            out << 'Content-Length: ' << length.to_s << "\r\n"
          elsif @req.proto == 'HTTP/1.1' && !@head_only
            out << "Transfer-Encoding: chunked\r\n"
            @chunked = true
          elsif !@head_only
            @keep = false
          end
        end
        if !@keep
          out << "Connection: close\r\n" if @req.proto == 'HTTP/1.1'
        elsif @req.proto == 'HTTP/1.0'
          out << "Connection: keep-alive\r\n"
        end
      end
      out << "\r\n"
      @head_bytes = out.bytesize
      @sent = true
      out
    end

    def write(data)
      @conn.write_all(data)
    rescue SystemCallError, IOError => e
      @write_error = true
      @keep = false
      raise ClientGone, e.message
    end

    def write_response(status, headers, body)
      if body.is_a?(Array)
        data = body.size == 1 ? body[0].to_s.b : body.map { |s| s.to_s.b }.join
        h = head(status, headers, data.bytesize)
        if @no_body
          write(h)
        else
          @body_bytes = data.bytesize
          write(h << data)
        end
      elsif body.respond_to?(:to_path) && File.file?(body.to_path)
        path = body.to_path
        h = head(status, headers, File.size(path))
        write(h)
        return if @no_body
        File.open(path, 'rb') do |f|
          while (chunk = f.read(65_536))
            @body_bytes += chunk.bytesize
            write(chunk)
          end
        end
      else
        write(head(status, headers, nil))
        body.each do |chunk|
          chunk = chunk.to_s
          next if chunk.empty? || @no_body
          @body_bytes += chunk.bytesize
          write(@chunked ? "#{chunk.bytesize.to_s(16)}\r\n#{chunk.b}\r\n" : chunk)
        end
        write("0\r\n\r\n") if @chunked
      end
    end
  end
end
