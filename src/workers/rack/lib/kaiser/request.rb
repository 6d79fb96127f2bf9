# frozen_string_literal: true

require 'stringio'

# Request parsing for kaiser's Rack worker: HTTP/1.x heads and bodies (Content-Length and chunked) and uwsgi packets,
# from a connection's buffer, without blocking. `parse` returns nil until the whole request (head and body) is
# buffered, a Reject for a request to refuse (400, 431), or a Request whose env is the Rack env.
module Kaiser
  Reject = Struct.new(:status)
  Request = Struct.new(:env, :proto, :keepalive, :vars, :head_bytes, :uwsgi)

  module Parser
    CRLF = "\r\n"
    HEAD_END = "\r\n\r\n"
    HKEYS = {} # header name → env key
    REQUEST_LINE = %r{\A([A-Za-z-]+) (\S+) (HTTP/1\.\d)\z}

    module_function

    def header_key(name)
      HKEYS[name] ||= begin
        k = name.upcase.tr('-', '_')
        k = "HTTP_#{k}" unless k == 'CONTENT_TYPE' || k == 'CONTENT_LENGTH'
        HKEYS.size < 1000 ? k.freeze : k
      end
    end

    def unescape(path)
      return path unless path.include?('%')
      path.b.gsub(/%(\h\h)/) { Regexp.last_match(1).hex.chr }.force_encoding(Encoding::ASCII_8BIT)
    end

    def input(body)
      io = StringIO.new(body)
      io.set_encoding(Encoding::ASCII_8BIT)
      io
    end

    # conn: {buf:, pending:, template:, remote:, rport:, fh:}; returns nil | Reject | Request
    def parse_http(conn, bufsize)
      req = conn.pending
      unless req
        buf = conn.buf
        buf.sub!(/\A(?:\r\n)+/, '') if buf.start_with?(CRLF)
        head_end = buf.index(HEAD_END)
        return(buf.bytesize > bufsize ? Reject.new('431 Request Header Fields Too Large') : nil) unless head_end
        return Reject.new('431 Request Header Fields Too Large') if head_end > bufsize
        lines = buf.byteslice(0, head_end).split(CRLF)
        m = REQUEST_LINE.match(lines.shift || '')
        return Reject.new('400 Bad Request') unless m
        method, uri, proto = m[1], m[2], m[3]
        env = conn.template.dup
        vars = 0
        lines.each do |line|
          i = line.index(':')
          return Reject.new('400 Bad Request') if i.nil? || i.zero? || line[i - 1] == ' ' || line[i - 1] == "\t"
          name = line[0, i]
          key = HKEYS[name] || header_key(name)
          val = line[(i + 1)..].strip
          if env.key?(key) && key.start_with?('HTTP_')
            env[key] = "#{env[key]}#{key == 'HTTP_COOKIE' ? '; ' : ', '}#{val}"
          else
            env[key] = val
          end
          vars += 1
        end
        path = uri
        unless path.start_with?('/')
          if (abs = %r{\Ahttps?://[^/]*(/.*)?\z}.match(path))
            path = abs[1] || '/'
          elsif path != '*'
            return Reject.new('400 Bad Request')
          end
        end
        q = path.index('?')
        if q
          env['QUERY_STRING'] = path[(q + 1)..]
          path = path[0, q]
        end
        env['PATH_INFO'] = unescape(path)
        env['REQUEST_METHOD'] = method
        env['REQUEST_URI'] = uri
        env['SERVER_PROTOCOL'] = proto
        env['HTTP_VERSION'] = proto
        env['REMOTE_ADDR'] = conn.remote
        env['REMOTE_PORT'] = conn.rport
        c = (env['HTTP_CONNECTION'] || '').downcase
        keep = proto == 'HTTP/1.1' ? !c.include?('close') : c.include?('keep-alive')
        req = Request.new(env, proto, keep, vars, head_end + 4, false)
        conn.pos = head_end + 4
        if (te = env['HTTP_TRANSFER_ENCODING'])
          return Reject.new('400 Bad Request') if te.downcase != 'chunked' || env.key?('CONTENT_LENGTH')
          conn.chunked = String.new
          conn.length = nil
        elsif (cl = env['CONTENT_LENGTH'])
          return Reject.new('400 Bad Request') unless cl =~ /\A\s*\d+\s*\z/
          conn.length = cl.to_i
          conn.chunked = nil
        else
          conn.length = 0
          conn.chunked = nil
        end
        conn.pending = req
        if (conn.chunked || conn.length.positive?) && env['HTTP_EXPECT']&.downcase == '100-continue' && conn.buf.bytesize <= conn.pos
          conn.write_all("HTTP/1.1 100 Continue\r\n\r\n")
        end
      end
      finish_body(conn, req)
    end

    def finish_body(conn, req)
      buf = conn.buf
      if conn.chunked
        loop do
          le = buf.index(CRLF, conn.pos)
          return nil unless le
          hex = buf.byteslice(conn.pos, le - conn.pos)[/\A\s*(\h+)/, 1]
          unless hex
            conn.pending = nil
            return Reject.new('400 Bad Request')
          end
          size = hex.hex
          if size.zero?
            after = le + 2
            return nil if buf.bytesize < after + 2
            if buf.byteslice(after, 2) == CRLF
              stop = after + 2
            else
              t = buf.index(HEAD_END, after)
              return nil unless t
              stop = t + 4
            end
            conn.buf = buf.byteslice(stop, buf.bytesize - stop)
            break
          end
          return nil if buf.bytesize < le + 2 + size + 2
          conn.chunked << buf.byteslice(le + 2, size)
          conn.pos = le + 2 + size + 2
        end
        body = conn.chunked
        req.env['CONTENT_LENGTH'] = body.bytesize.to_s
        req.env.delete('HTTP_TRANSFER_ENCODING')
      else
        total = conn.pos + conn.length
        return nil if buf.bytesize < total
        body = conn.length.zero? ? String.new : buf.byteslice(conn.pos, conn.length)
        conn.buf = buf.bytesize == total ? String.new : buf.byteslice(total, buf.bytesize - total)
      end
      conn.pending = nil
      req.env['rack.input'] = input(body)
      req
    end

    # uwsgi packet: u8 modifier1, u16le size, u8 modifier2, then u16le-prefixed key/value pairs; the body follows.
    def parse_uwsgi(conn, bufsize)
      req = conn.pending
      unless req
        buf = conn.buf
        return nil if buf.bytesize < 4
        _m1, size, _m2 = buf.unpack('CvC')
        return Reject.new('uwsgi packet too large') if size > bufsize
        return nil if buf.bytesize < 4 + size
        env = conn.template.dup
        pos = 4
        stop = 4 + size
        vars = 0
        while pos < stop
          kl = buf.byteslice(pos, 2).unpack1('v')
          k = buf.byteslice(pos + 2, kl)
          pos += 2 + kl
          vl = buf.byteslice(pos, 2)&.unpack1('v') or return Reject.new('invalid uwsgi packet')
          env[k] = buf.byteslice(pos + 2, vl)
          pos += 2 + vl
          vars += 1
          return Reject.new('invalid uwsgi packet') if pos > stop
        end
        env['REMOTE_ADDR'] ||= conn.remote
        env['REQUEST_METHOD'] ||= 'GET'
        env['SERVER_PROTOCOL'] ||= 'HTTP/1.0'
        env['PATH_INFO'] ||= unescape((env['REQUEST_URI'] || '/').split('?', 2)[0])
        env['REQUEST_URI'] ||= env['PATH_INFO'] + (env['QUERY_STRING'].to_s.empty? ? '' : "?#{env['QUERY_STRING']}")
        env.delete('HTTP_CONTENT_TYPE')
        env.delete('HTTP_CONTENT_LENGTH')
        req = Request.new(env, env['SERVER_PROTOCOL'], false, vars, stop, true)
        conn.pos = stop
        conn.length = env['CONTENT_LENGTH'].to_s =~ /\A\d+\z/ ? env['CONTENT_LENGTH'].to_i : 0
        conn.chunked = nil
        conn.pending = req
      end
      finish_body(conn, req)
    end
  end
end
