# Tiny HTTP server for kaiser command vassals in the bench: answers every request on
# 127.0.0.1:PORT (argv[1]) with "200 OK / Hello World".  Stdlib socket only, so that
# `/usr/bin/python3 -I -S tiny_http.py PORT` is listening ~30 ms after exec.
# One request per connection, one at a time (enough for latency probes, not for load).
import socket
import sys

port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(128)
body = b"Hello World"
resp = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
while True:
    c, _ = s.accept()
    try:
        c.settimeout(2)
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            chunk = c.recv(4096)
            if not chunk:
                break
            buf += chunk
        c.sendall(resp)
    except OSError:
        pass
    finally:
        c.close()
