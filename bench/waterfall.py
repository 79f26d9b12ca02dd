#!/usr/bin/env python3
"""bench/waterfall.py: one run's requests over time, as the client saw them, from the delay proxy's connection log
and the ECR stand-in's request timeline; draws the waterfall (SVG) and walks back its critical path.

    waterfall.py PROXY_LOG TIMELINE START END ONE_WAY_MS SVG [TITLE]

START and END are the run's wall-clock seconds (the client process's start and exit). The stand-in stamps a request
when it arrives and when its answer is written; the client sent it one one-way delay earlier and had the answer
one one-way delay later, which is how each bar is drawn. A connection's set-up (the proxy's extra round trip for
the TCP handshake, then TLS on the registry's) is drawn as a lighter bar before its first request.

Prints on stdout, one per line: `requests N`, `connections N`, `critical_rtt N` (the critical path's length in
round trips: every request on it counts one, every connection set-up two, TCP's handshake and TLS 1.3's, since
every connection here is TLS), `critical_ms X` (the same path's time, protocol and processing), and `step TEXT` for
each step of the critical path in order.
"""
import json
import sys
from xml.sax.saxutils import escape

def label(request):
    if request["front"] == "api":
        return request["operation"] or "STS (query API)"
    path = request["path"]
    parts = path.split("/")
    if "/blobs/uploads/" in path and request["method"] == "POST":
        return "POST blob upload"
    if "/blobs/uploads/" in path:
        return f"{request['method']} blob upload"
    if "/blobs/" in path:
        return f"{request['method']} blob {parts[-1][7:19]}"
    if "/manifests/" in path:
        reference = parts[-1]
        return f"{request['method']} manifest {reference[:19] if reference.startswith('sha256:') else reference}"
    return f"{request['method']} {path}"


def load(proxy_log, timeline, start, end, delay):
    connections, tls = {}, {}
    for line in open(proxy_log):
        event = json.loads(line)
        if event["event"] == "tls" and start - 0.05 <= event["t"] <= end:
            tls[event["upstream_port"]] = event["accepted_port"]
        if event["event"] == "open" and start - 0.05 <= event["t"] <= end:
            connections[event["upstream_port"]] = {"open": event["t"], "listener": event["listener"],
                                                   "ready": event["t"] + 2 * delay, "first": None}
    requests = []
    for line in open(timeline):
        request = json.loads(line)
        if not start - 0.05 <= request["start"] <= end:
            continue
        request["sent"], request["answered"] = request["start"] - delay, request["end"] + delay
        request["label"] = label(request)
        request["connection"] = connections.get(tls.get(request["client_port"], request["client_port"]))
        requests.append(request)
    requests.sort(key=lambda r: r["sent"])
    for request in requests:
        connection = request["connection"]
        if connection is not None and connection["first"] is None:
            connection["first"] = request
            request["setup"] = (connection["open"], request["sent"])
    return requests, connections


def critical_path(requests, rtt):
    """Walks back from the last answer: each step's predecessor is what ended last before it began."""
    intervals = []
    for request in requests:
        if "setup" in request:
            intervals.append({"begin": request["setup"][0], "finish": request["setup"][1], "kind": "setup",
                              "label": f"new connection to the {request['front']} (TCP + TLS)"})
        intervals.append({"begin": request["sent"], "finish": request["answered"], "kind": "request",
                          "label": request["label"], "request": request})
    steps = []
    current = max((i for i in intervals if i["kind"] == "request"), key=lambda i: i["finish"], default=None)
    slack = max(rtt * 0.25, 0.002)
    while current is not None:
        steps.append(current)
        before = [i for i in intervals if i["finish"] <= current["begin"] + slack and i is not current
                  and i["begin"] < current["begin"]]
        current = max(before, key=lambda i: i["finish"], default=None)
    steps.reverse()
    total = 0
    lines = []
    for step in steps:
        took = (step["finish"] - step["begin"]) * 1000
        if step["kind"] == "setup":
            rounds = 2
        else:
            rounds = 1
            parallel = [r["label"] for r in requests if r is not step["request"]
                        and r["sent"] < step["finish"] and r["answered"] > step["begin"]]
            if parallel:
                step = {**step, "label": step["label"] + f" (with {len(parallel)} more in flight)"}
        total += rounds
        lines.append(f"{rounds} RTT: {step['label']} ({took:.0f} ms)")
    span = (steps[-1]["finish"] - steps[0]["begin"]) * 1000 if steps else 0
    return total, span, lines


def svg(requests, start, end, title, out):
    width, left, row, top = 980, 250, 16, 34
    span = max(end - start, 1e-3)
    scale = (width - left - 20) / span
    height = top + row * len(requests) + 40
    x = lambda t: left + (t - start) * scale  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    step = 50 if span < 0.6 else 100 if span < 1.5 else 250 if span < 4 else 500
    tick = 0
    while tick <= span * 1000:
        tx = x(start + tick / 1000)
        parts.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - 30}" stroke="#ddd"/>')
        parts.append(f'<text x="{tx:.1f}" y="{height - 16}" text-anchor="middle" fill="#555">{tick} ms</text>')
        tick += step
    colours = {"api": "#3b6fb6", "registry": "#2e9e5b"}
    for index, request in enumerate(requests):
        y = top + index * row
        parts.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">{escape(request["label"])}</text>')
        if "setup" in request:
            a, b = request["setup"]
            parts.append(f'<rect x="{x(a):.1f}" y="{y + 3}" width="{max((b - a) * scale, 1):.1f}" height="9" '
                         f'fill="{colours[request["front"]]}" opacity="0.3"><title>connection set-up '
                         f'{(b - a) * 1000:.0f} ms</title></rect>')
        a, b = request["sent"], request["answered"]
        parts.append(f'<rect x="{x(a):.1f}" y="{y + 2}" width="{max((b - a) * scale, 1):.1f}" height="11" '
                     f'fill="{colours[request["front"]]}"><title>{escape(request["label"])}: '
                     f'{(b - a) * 1000:.0f} ms, HTTP {request["status"]}</title></rect>')
    legend_y = height - 4
    parts.append(f'<rect x="10" y="{legend_y - 9}" width="10" height="9" fill="{colours["api"]}"/>'
                 f'<text x="24" y="{legend_y}">ECR/STS API</text>'
                 f'<rect x="110" y="{legend_y - 9}" width="10" height="9" fill="{colours["registry"]}"/>'
                 f'<text x="124" y="{legend_y}">registry</text>'
                 f'<rect x="190" y="{legend_y - 9}" width="10" height="9" fill="#888" opacity="0.3"/>'
                 f'<text x="204" y="{legend_y}">new connection (TCP, then TLS)</text>'
                 f'<text x="{width - 10}" y="{legend_y}" text-anchor="end" fill="#555">0 ms = the process '
                 f'starts; the bar ends when its last answer is in</text>')
    parts.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    proxy_log, timeline, start, end, one_way_ms, out = sys.argv[1:7]
    title = sys.argv[7] if len(sys.argv) > 7 else "requests over time"
    start, end, delay = float(start), float(end), float(one_way_ms) / 1000
    requests, connections = load(proxy_log, timeline, start, end, delay)
    svg(requests, start, end, title, out)
    total, span, steps = critical_path(requests, 2 * delay)
    print(f"requests {len(requests)}")
    print(f"connections {len(connections)}")
    print(f"critical_rtt {total}")
    print(f"critical_ms {span:.0f}")
    for line in steps:
        print(f"step {line}")


if __name__ == "__main__":
    main()
