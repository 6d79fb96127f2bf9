# frozen_string_literal: true

# This worker's slot of the master's scoreboard (docs/runtime-protocol.md §3, "Scoreboard"), written whole with
# IO#pwrite (positional: the memfd's offset is shared with the master and the other workers) when a request starts
# and when it ends. Only core 0 is used unless the worker runs request threads (one core each).
module Kaiser
  class Scoreboard
    HEADER = 'Q<Q<Q<Q<Q<L<x20'
    CORE = 'EQ<L<L<x8'

    def initialize(fd, offset, threads)
      @io = fd && !fd.empty? ? IO.for_fd(Integer(fd), 'r+b', autoclose: false) : nil
      @offset = offset
      @threads = threads
      @requests = @exceptions = @tx = @running = 0
      @accepting = 0
      @cores = Array.new(threads) { [0.0, 0, 0, 0] } # start, requests, read errors, write errors
      @lock = Mutex.new
    end

    def flush
      return unless @io
      slot = [@requests, @exceptions, @tx, @running, @requests.zero? ? 0 : @running / @requests, @accepting].pack(HEADER)
      @cores.each { |c| slot << c.pack(CORE) }
      @io.pwrite(slot, @offset)
    rescue SystemCallError
      @io = nil
    end

    def accepting=(on)
      @lock.synchronize { @accepting = on ? 1 : 0; flush }
    end

    def count_exception
      @lock.synchronize { @exceptions += 1; flush }
    end

    def read_error(core = 0)
      @lock.synchronize { @cores[core][2] += 1 }
    end

    # A request starts on `core`: its start time is what the master checks for harakiri.
    def begin_request(core, started)
      @lock.synchronize do
        c = @cores[core]
        c[0] = started
        c[1] += 1
        @requests += 1 # counted as it starts, like the Python workers
        flush
      end
    end

    def end_request(core, micros, tx, exception, write_error)
      @lock.synchronize do
        c = @cores[core]
        c[0] = 0.0
        c[3] += 1 if write_error
        @running += micros
        @tx += tx
        @exceptions += 1 if exception
        flush
      end
    end
  end
end
