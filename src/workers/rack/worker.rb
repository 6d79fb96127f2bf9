# frozen_string_literal: true

# kaiser's Rack worker: `ruby dist/workers/rack/worker.rb`, exec'd by the Python master with the worker contract of
# docs/runtime-protocol.md §3 (KAISER_LISTEN_FDS, KAISER_STATUS_FD, KAISER_LIFE_FD, KAISER_SCOREBOARD_FD/OFFSET,
# KAISER_CONFIG). Needs ruby-rack (Rack::Builder reads config.ru).
#
# Each request core (the main thread, plus one thread per extra `threads`) runs its own IO.select loop over the
# shared listening sockets and its own connections; a request is read without blocking (head and whole body, so a
# slow client never holds a core), then the app runs inline on that core and the response is written. Keep-alive and
# pipelining on HTTP/1.x; the uwsgi protocol answers raw HTTP and closes, as uWSGI does.
#
# Sequence: parse the contract → chdir, env → load config.ru → {"act":"loaded"} → accept → scoreboard accepting=1 →
# {"act":"accepting"}. Any failure before that is load-failed + exit 22. Signals: SIGHUP graceful (stop accepting,
# take what is queued, finish, close idle keep-alive connections after 0.5 s, exit 0); SIGTERM/SIGINT exit 0 at once;
# life-pipe EOF: exit 1 at once. max-requests: retire by itself.
#
# As a zygote (KAISER_ZYGOTE=1, docs/runtime-protocol.md §3, src/server/python/zygote.py): the same load, then
# {"act":"loaded"} and a loop that forks a worker for each `spawn ID SLOT OFFSET` line on KAISER_CONTROL_FD and
# reports each reaped worker ({"act":"exited"}); a forked worker says {"act":"spawned"} and serves as above. Every
# message then carries the sender's pid (zygote and workers share one status pipe). Control EOF or life EOF: exit.
$LOAD_PATH.unshift(File.join(__dir__, 'lib'))
require 'json'
require 'socket'
require 'uri' # Rack::Lint (rack 2.2) calls URI.parse without requiring it; every other server has it loaded
require 'kaiser/scoreboard'
require 'kaiser/request'
require 'kaiser/response'
require 'kaiser/core'

module Kaiser
  class Worker
    attr_reader :cfg, :sb, :listeners, :timeout, :bufsize, :stopping, :stop_time, :threads

    def initialize
      @id = (ENV['KAISER_WORKER_ID'] || '1').to_i
      @offset = (ENV['KAISER_SCOREBOARD_OFFSET'] || '0').to_i
      @zygote = ENV['KAISER_ZYGOTE'] == '1'
      fd = ENV['KAISER_STATUS_FD']
      @status = fd && !fd.empty? ? IO.for_fd(Integer(fd), 'w', autoclose: false) : nil
      @status_lock = Mutex.new
      @log_lock = Mutex.new
      @stopping = false
      @requests = 0
      @loyal = false
    end

    def log(line)
      line = "#{line}\n" unless line.end_with?("\n")
      @log_lock.synchronize { $stderr.syswrite(line) }
    end

    def send_status(obj)
      obj = obj.merge(pid: Process.pid) if @zygote
      @status_lock.synchronize { @status&.syswrite("#{JSON.generate(obj)}\n") }
    rescue SystemCallError
      nil
    end

    def load_failed(message)
      log(message)
      send_status(act: 'load-failed', error: message)
      exit!(22)
    end

    def run
      @cfg = parse_config
      threads = @threads = [(@cfg['threads'] || 1).to_i, 1].max
      @listeners = open_listeners
      @timeout = (@cfg['socket-timeout'] || 4).to_f
      @timeout = 4.0 if @timeout <= 0
      @bufsize = (@cfg['buffer-size'] || 4096).to_i
      @max_requests = (@cfg['max-requests'] || 0).to_i
      @logging = !@cfg['disable-logging']
      @multiprocess = (@cfg['processes'] || 1).to_i > 1
      app = load_app
      send_status(act: 'loaded')
      fork_workers if @zygote # returns in each forked worker
      @sb = Scoreboard.new(ENV['KAISER_SCOREBOARD_FD'], @offset, threads)
      @sb.flush
      @wake_r, @wake_w = IO.pipe
      trap('HUP') { @wake_w.write_nonblock('h', exception: false) }
      trap('TERM') { exit!(0) }
      trap('INT') { exit!(0) }
      trap('PIPE', 'IGNORE')
      life_fd = ENV['KAISER_LIFE_FD']
      life = life_fd && !life_fd.empty? ? IO.for_fd(Integer(life_fd), 'r', autoclose: false) : nil
      @cores = Array.new(threads) { |i| Core.new(self, i, app) }
      @sb.accepting = true
      send_status(act: 'accepting')
      others = @cores.drop(1).map { |core| Thread.new { core.run(nil) } }
      @cores[0].run(life)
      others.each(&:join)
      log("worker #{@id} (pid: #{Process.pid}) finished its requests, goodbye")
      $stderr.flush
      exit!(0)
    end

    attr_reader :wake_r, :logging, :multiprocess

    # Called by core 0 when the wake pipe says SIGHUP.
    def on_wake
      @wake_r.read_nonblock(64, exception: false)
      log("gracefully stopping worker #{@id} (pid: #{Process.pid})")
      begin_stop
    end

    def begin_stop
      return if @stopping
      @stopping = true
      @stop_time = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      @sb.accepting = false
      # a wakeup may have gone to us alone: take what is queued before we stop listening
      @listeners.each { |l| 1024.times { break unless @cores[0].accept_one(l) } }
      @listeners.each { |l| l.sock.close unless l.sock.closed? }
    end

    # Counts a request as it starts; retires the worker when it is the last one max-requests allows.
    def count_request
      last = false
      @status_lock.synchronize do
        @requests += 1
        last = @max_requests.positive? && @requests >= @max_requests && !@stopping
      end
      if last
        log("worker #{@id} (pid: #{Process.pid}): reached max-requests (#{@max_requests}), recycling")
        send_status(act: 'retiring', reason: 'max-requests')
        begin_stop
      end
      unless @loyal
        @loyal = true
        send_status(act: 'first-request')
      end
      @requests
    end

    def master_gone
      log('UAAAAAAH my master disconnected: i will kill myself !!!')
      exit!(1)
    end

    private

    # The zygote's loop: forks a worker per `spawn ID SLOT OFFSET` line and returns in it; reports reaped workers.
    def fork_workers
      control = IO.for_fd(Integer(ENV['KAISER_CONTROL_FD']), 'r', autoclose: false)
      life_fd = ENV['KAISER_LIFE_FD']
      life = life_fd && !life_fd.empty? ? IO.for_fd(Integer(life_fd), 'r', autoclose: false) : nil
      chld_r, chld_w = IO.pipe
      trap('CHLD') { chld_w.write_nonblock('c', exception: false) }
      %w[HUP TERM INT].each { |sig| trap(sig) { exit!(0) } }
      # the workers start from a collected, compacted heap whose objects are all old: fewer shared pages for them to
      # copy when they allocate or age objects (what Unicorn/Puma users call nakayoshi_fork)
      GC.start
      pending = +''
      loop do
        ready, = IO.select([control, chld_r, life].compact)
        exit!(1) if life && ready.include?(life)
        if ready.include?(chld_r)
          chld_r.read_nonblock(4096, exception: false)
          reap_workers
        end
        next unless ready.include?(control)
        data = control.read_nonblock(4096, exception: false)
        exit!(0) if data.nil? # the generation is over (or the master gone)
        next if data == :wait_readable
        pending << data
        while (line = pending.slice!(/\A[^\n]*\n/))
          cmd, id, slot, offset = line.split
          next unless cmd == 'spawn'
          next if fork
          # the worker: the zygote's pipes and traps are not its own
          trap('CHLD', 'DEFAULT')
          [control, chld_r, chld_w].each(&:close)
          @id = id.to_i
          @offset = offset.to_i
          send_status(act: 'spawned', slot: slot.to_i)
          return
        end
      end
    end

    def reap_workers
      loop do
        pid, status = Process.wait2(-1, Process::WNOHANG)
        break unless pid
        send_status(act: 'exited', worker: pid, status: status.to_i)
      end
    rescue Errno::ECHILD
      nil
    end

    def parse_config
      raw = ENV['KAISER_CONFIG'].to_s
      cfg = raw.empty? ? {} : JSON.parse(raw)
      load_failed('KAISER_CONFIG must be a JSON object') unless cfg.is_a?(Hash)
      cfg
    rescue JSON::ParserError => e
      load_failed("KAISER_CONFIG is not valid JSON: #{e.message}")
    end

    Listener = Struct.new(:sock, :fd, :uwsgi, :tcp, :template)

    def open_listeners
      out = ENV['KAISER_LISTEN_FDS'].to_s.split(',').reject(&:empty?).map do |item|
        fd, proto = item.split(':', 2)
        proto ||= 'http'
        load_failed("KAISER_LISTEN_FDS: unsupported protocol #{proto} on fd #{fd}") unless %w[http uwsgi].include?(proto)
        sock = begin
          Socket.for_fd(Integer(fd))
        rescue StandardError => e
          load_failed("KAISER_LISTEN_FDS: fd #{fd} is not a socket (#{e.message})")
        end
        sock.autoclose = false
        addr = sock.local_address
        name, port = addr.ip? ? [addr.ip_address, addr.ip_port.to_s] : [addr.unix_path.to_s, '']
        Listener.new(sock, Integer(fd), proto == 'uwsgi', addr.ip?, template(name, port))
      end
      load_failed('no listening socket: KAISER_LISTEN_FDS is empty') if out.empty?
      out
    end

    def template(name, port)
      {
        'SCRIPT_NAME' => '', 'QUERY_STRING' => '', 'SERVER_NAME' => name, 'SERVER_PORT' => port,
        'rack.version' => [1, 3], 'rack.url_scheme' => 'http', 'rack.errors' => $stderr,
        'rack.multithread' => (@cfg['threads'] || 1).to_i > 1, 'rack.multiprocess' => (@cfg['processes'] || 1).to_i > 1,
        'rack.run_once' => false, 'rack.hijack?' => false,
        'uwsgi.version' => 'kaiser-0.1.0', 'uwsgi.node' => Socket.gethostname
      }.freeze
    end

    def load_app
      Dir.chdir(@cfg['chdir']) if @cfg['chdir']
      (@cfg['env'] || {}).each { |k, v| ENV[k.to_s] = v.to_s }
      file = @cfg['rack'] or load_failed('no rack given: nothing to load')
      path = File.expand_path(file)
      load_failed("unable to find RACK entry point #{file} (#{path}): no such file") unless File.file?(path)
      begin
        require 'rack'
        require 'rack/builder'
      rescue LoadError => e
        load_failed("rack apps need the rack library (Debian package ruby-rack): #{e.message}")
      end
      began = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      app = begin
        built = Rack::Builder.parse_file(path)
        built.is_a?(Array) ? built[0] : built # rack 2 returns [app, options]
      rescue Exception => e # the app's load errors, whatever they are
        raise if e.is_a?(SystemExit) && e.status.zero?
        load_failed("unable to load RACK app #{file}: #{e.class}: #{e.message}\n#{(e.backtrace || []).first(8).join("\n")}")
      end
      load_failed("unable to load RACK app #{file}: it has no call method (#{app.class})") unless app.respond_to?(:call)
      log(format('RACK app %<file>s loaded in %<ms>d msecs at %<app>s (pid: %<pid>d)', file: file,
                 ms: ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - began) * 1000).to_i, app: app.class, pid: Process.pid))
      app
    end
  end
end

worker = Kaiser::Worker.new
begin
  worker.run
rescue SystemExit
  raise
rescue Exception => e # a bug of the worker itself: report it as a load failure rather than a bare exit status
  worker.load_failed("rack worker crashed: #{e.class}: #{e.message}\n#{(e.backtrace || []).first(8).join("\n")}")
end
