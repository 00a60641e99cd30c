#!/usr/bin/env python3
"""Writes the hostile-input corpus: malformed, smuggling-shaped and invalid requests,
one per file in hostile/. Each must get a 4xx/5xx or a closed connection from BOTH
gateways (shapes hyper accepts, such as bare-LF line ends or a control byte in a chunk
extension, are left out; the uring server's stricter answers are tested separately).
The one allowed exception: for cl-te-* files, RFC 9112 §6.3 lets a server process the
request by Transfer-Encoding alone if it then closes the connection, which hyper does. Re-run after editing:
    python3 e2e/corpus/generate.py
"""
import os, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hostile")

def req(head_lines, body=b"", method=b"POST", target=b"/", version=b"HTTP/1.1"):
    head = method + b" " + target + b" " + version + b"\r\nHost: t\r\n"
    for line in head_lines:
        head += line + b"\r\n"
    return head + b"\r\n" + body

cases = {}
def add(name, data):
    assert name not in cases, name
    cases[name] = data

# Content-Length that is not a plain decimal, or that conflicts.
for i, value in enumerate([b"+2", b"-2", b"0x2", b"2x", b"2 2", b"2,3", b"abc", b"99999999999999999999999",
                           b"2.0", b"2e0", b"\xef\xbc\x92", b"", b" ", b"0x", b"--2"]):
    add(f"cl-invalid-{i:02}", req([b"Content-Length: " + value], b"{}"))
for i, (a, b) in enumerate([(b"2", b"3"), (b"3", b"2"), (b"0", b"2"), (b"2", b"20")]):
    add(f"cl-differing-{i:02}", req([b"Content-Length: " + a, b"Content-Length: " + b], b"{}xx"))
# Content-Length together with Transfer-Encoding, in every order and case.
for i, (te_name, cl_name) in enumerate([(b"Transfer-Encoding", b"Content-Length"), (b"transfer-encoding", b"content-length"),
                                        (b"TRANSFER-ENCODING", b"CONTENT-LENGTH")]):
    for j, cl in enumerate([b"0", b"4", b"12"]):
        for k, first_te in enumerate([True, False]):
            lines = [te_name + b": chunked", cl_name + b": " + cl]
            if not first_te:
                lines.reverse()
            add(f"cl-te-{i}{j}{k}", req(lines, b"2\r\n{}\r\n0\r\n\r\n"))
for i, value in enumerate([b"Chunked", b"CHUNKED", b"chunked "]):
    add(f"cl-te-value-case-{i}", req([b"Content-Length: 4", b"Transfer-Encoding: " + value], b"2\r\n{}\r\n0\r\n\r\n"))
add("cl-te-double-te", req([b"Content-Length: 4", b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
                           b"2\r\n{}\r\n0\r\n\r\n"))
# Transfer-Encoding that cannot frame a request.
for i, value in enumerate([b"chunked, identity", b"chunked, gzip", b"chunked,deflate", b"chunked, x"]):
    add(f"te-invalid-{i:02}", req([b"Transfer-Encoding: " + value], b"2\r\n{}\r\n0\r\n\r\n"))
for i, version in enumerate([b"HTTP/1.0"]):
    add(f"te-http10-{i:02}", req([b"Transfer-Encoding: chunked"], b"2\r\n{}\r\n0\r\n\r\n", version=version))
# Chunk sizes and chunk framing.
for i, size in enumerate([b"-1", b"0x2", b"fffffffffffffffffffff", b" 2", b"2 x", b"g", b"+2",
                          b"2\x00", b"\t2", b"1" * 40]):
    add(f"chunk-size-{i:02}", req([b"Transfer-Encoding: chunked"], size + b"\r\n{}\r\n0\r\n\r\n"))
for i, body in enumerate([b"2\r\n{}XX0\r\n\r\n", b"2\r\n{}}\r\n0\r\n\r\n", b"3\r\n{}\r\n0\r\n\r\n\r\n\r\n",
                          b"2\r\n{}\r\n0\r\nBad Trailer\r\n\r\n", b"2\r\n{}\r\n0\r\n: x\r\n\r\n"]):
    add(f"chunk-framing-{i:02}", req([b"Transfer-Encoding: chunked"], body))
# Request lines.
for i, line in enumerate([b"P@ST / HTTP/1.1", b"GE T / HTTP/1.1", b"\x00GET / HTTP/1.1", b"POST\t/\tHTTP/1.1",
                          b"POST / HTTP/1", b"POST / HTTP/1.1.1", b"POST / HTTP/x.y", b"POST / HTTPS/1.1",
                          b"POST / http/1.1", b"POST  / HTTP/1.1", b"POST / HTTP/1.1 extra", b"POST", b"/ HTTP/1.1",
                          b"POST /\x7f HTTP/1.1", b"POST /a b HTTP/1.1", b"\xff\xfe / HTTP/1.1",
                          b"POST / HTTP/1.1\x00", b"POST /\x00 HTTP/1.1"]):
    add(f"request-line-{i:02}", line + b"\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
# Header lines.
for i, name in enumerate([b"Content-Length", b"Host", b"X-Kafka-Key", b"Transfer-Encoding", b"Content-Type"]):
    add(f"header-space-colon-{i:02}", req([name + b" : 2"], b"{}"))
    add(f"header-tab-colon-{i:02}", req([name + b"\t: 2"], b"{}"))
for i, fold in enumerate([b" folded", b"\tfolded", b"  x: y"]):
    add(f"header-obs-fold-{i:02}", req([b"X-A: 1", fold, b"Content-Length: 2"], b"{}"))
for i, value in enumerate([b"a\x00b", b"a\x01b", b"a\x1fb", b"a\rb", b"\x00"]):
    add(f"header-ctl-{i:02}", req([b"X-Value: " + value, b"Content-Length: 2"], b"{}"))
for i, line in enumerate([b"No-Colon-Here", b": empty-name", b"X A: 1", b"X(A): 1", b"X@A: 1", b"X\"A: 1",
                          b"X[A]: 1", b"X{A}: 1", b"X/A: 1", b"X=A: 1", b"X,A: 1", b"X;A: 1", b"\x80X: 1",
                          b"X\\A: 1", b"X<A>: 1", b"X?A: 1", b"X A B: 1", b"\x7fX: 1"]):
    add(f"header-name-{i:02}", req([line, b"Content-Length: 2"], b"{}"))
# Sizes past the limits.
add("limit-header-bytes", req([b"X-Big: " + b"a" * 20000, b"Content-Length: 2"], b"{}"))
add("limit-header-count", req([b"X-H%d: v" % i for i in range(200)] + [b"Content-Length: 2"], b"{}"))
for i, size in enumerate([1048577, 2000000, 10**12]):
    add(f"limit-body-{i}", req([b"Content-Length: %d" % size], b"{}"))
# Bodies that are not one JSON value (application errors: 400, connection kept).
# Not here because they are valid JSON: a lone surrogate escape such as "\\ud800" (RFC
# 8259's grammar allows it) and deep but closed nesting (the gateway sets no depth limit;
# serde_json skips nesting without recursion).
bad_json = [b"", b" ", b"{", b"}", b"{\"a\":}", b"{\"a\":1,}", b"[1,2,]", b"{'a':1}", b"NaN", b"Infinity",
            b"{\"a\":NaN}", b"// c\n{}", b"/* c */{}", b"{} {}", b"{}x", b"\"unterminated", b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\\x41\"}", b"{\"\xff\":1}", b"[" * 5000, b"{\"a\":\"\\u12\"}",
            b"01", b"1.", b".5", b"-", b"tru", b"nul", b"{\"a\" 1}", b"{a:1}", b"[1 2]", b"\xef\xbb\xbf{}"]
for i, body in enumerate(bad_json):
    add(f"json-invalid-{i:02}", req([b"Content-Type: application/json", b"Content-Length: %d" % len(body)], body))
    add(f"json-invalid-untyped-{i:02}", req([b"Content-Length: %d" % len(body)], body))
# Routes, methods, media types, missing length.
for i, (method, target) in enumerate([(b"GET", b"/"), (b"PUT", b"/"), (b"DELETE", b"/"), (b"PATCH", b"/"),
                                      (b"POST", b"/x"), (b"POST", b"/healthz"), (b"GET", b"/nope"),
                                      (b"POST", b"//"), (b"POST", b"/index.html"), (b"OPTIONS", b"/")]):
    add(f"route-{i:02}", req([b"Content-Length: 2"], b"{}", method=method, target=target))
for i, media in enumerate([b"text/plain", b"multipart/form-data; boundary=x", b"application/xml", b"image/png",
                           b"application/octet-stream", b"text/html; charset=utf-8"]):
    add(f"media-type-{i:02}", req([b"Content-Type: " + media, b"Content-Length: 2"], b"{}"))
add("missing-length", req([], b""))
add("missing-length-with-body", req([b"Content-Type: application/json"], b""))

shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
for name, data in cases.items():
    with open(os.path.join(OUT, name + ".http"), "wb") as f:
        f.write(data)
print(f"{len(cases)} files in {OUT}")
