"""The header block of a CGI response (RFC 3875 §6): where it ends, and the status and headers it gives.

Shared by the CGI bridge (cgi_app.py) and the PHP bridge (php_app.py: php-cgi answers the same way).
Owns uWSGI's reading of it: `Status:` sets the status line (the reason phrase filled in when the script
gives a bare code), `Location:` without a status is a 302, other lines are headers as written.
"""


def head_end(buf):
    """(end of the header block, start of the body) or None."""
    i = buf.find(b'\n\n')
    j = buf.find(b'\r\n\r\n')
    k = buf.find(b'\n\r\n')
    cands = [(x, x + n) for x, n in ((i, 2), (j, 4), (k, 3)) if x >= 0]
    if not cands:
        return None
    return min(cands)


REASONS = {
    100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted',
    203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content', 206: 'Partial Content',
    300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
    307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized',
    402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
    408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed',
    413: 'Request Entity Too Large', 414: 'Request-URI Too Long', 415: 'Unsupported Media Type',
    416: 'Requested Range Not Satisfiable', 417: 'Expectation Failed', 418: "I'm a teapot",
    422: 'Unprocessable Entity', 425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required',
    429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
    500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
    504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
}


def with_reason(status):
    """'418' → "418 I'm a teapot" (php-cgi sends bare codes; uWSGI's plugins add the phrase)."""
    code, _, reason = status.partition(' ')
    if reason.strip():
        return status
    try:
        return '%s %s' % (code, REASONS.get(int(code), 'Unknown'))
    except ValueError:
        return status


def parse_head(head):
    """The script's header block → (status, headers) as uWSGI sends them."""
    status = None
    headers = []
    for line in head.decode('latin-1').split('\n'):
        line = line.rstrip('\r')
        if not line:
            continue
        name, colon, value = line.partition(':')
        if not colon:
            continue
        value = value.strip()
        if status is None and name.lower() == 'status' and len(line) >= 11:
            status = value
            continue
        if status is None and name.lower() == 'location':
            status = '302 Found'
        headers.append((name, value))
    return with_reason(status) if status else '200 OK', headers
