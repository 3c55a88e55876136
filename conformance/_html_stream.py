"""The HTML report's picture of the stream: a timeline, the latency table, the request and
the response. Rendered from the JSON report document (``_report``), whose text is already
redacted and made visible; every string is still escaped here, whatever its origin."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ._render import events_phrase, plural

__all__ = ["COLORS", "timeline", "latency_table", "exchange", "stream_section", "esc", "seconds"]

Doc = dict[str, Any]


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


# -- the stream over time ----------------------------------------------------------------

# Timeline geometry, in SVG user units.
W, H = 720, 170
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 30
COLORS = {"headers": "#1f6fd0", "first": "#1a8f3c", "gap": "#d9534f", "terminator": "#6f42c1", "events": "#333"}


def timeline(timings: Doc) -> str:
    """An inline SVG: content events received so far, over time, with the landmarks marked."""
    times: list[float] = timings["arrivals"]["times"]
    stride: int = timings["arrivals"]["stride"]
    total = max([timings["total"], *times[-1:]]) or 1e-3
    count = max(timings["content_events"], len(times) * stride, 1)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + plot_w * min(t / total, 1.0), 1)

    def y(n: int) -> float:
        return round(TOP + plot_h * (1 - n / count), 1)

    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="sse-plot"/>']
    gap, gap_at = timings["gap_max"], timings["gap_max_at"]
    if gap and gap_at is not None:
        x0, x1 = x(gap_at), x(gap_at + gap)
        parts.append(
            f'<rect x="{x0}" y="{TOP}" width="{max(x1 - x0, 1)}" height="{plot_h}" '
            f'fill="{COLORS["gap"]}" fill-opacity="0.18"><title>longest gap {esc(seconds(gap))}</title></rect>'
        )
    for key, name in (("headers", "headers"), ("first_event", "first"), ("terminator", "terminator")):
        if timings[key] is not None:
            parts.append(
                f'<line x1="{x(timings[key])}" x2="{x(timings[key])}" y1="{TOP}" y2="{TOP + plot_h}" '
                f'stroke="{COLORS[name]}" stroke-width="2" stroke-dasharray="4 3"/>'
            )
    if times:
        # A step line: the count jumps at each arrival; ticks along the axis show each one.
        steps = [f"M{x(times[0])},{y(0)}"]
        for k, t in enumerate(times):
            steps.append(f"H{x(t)}V{y((k + 1) * stride)}")
        steps.append(f"H{x(total)}")
        parts.append(f'<path d="{"".join(steps)}" fill="none" stroke="{COLORS["events"]}" stroke-width="1.5"/>')
        ticks = "".join(f"M{x(t)},{TOP + plot_h}v-7" for t in times)
        parts.append(f'<path d="{ticks}" stroke="{COLORS["events"]}" stroke-opacity="0.6"/>')
    else:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle">'
                     'no content event</text>')
    for i in range(5):
        t = total * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(f'<text x="{x(t)}" y="{H - 12}" text-anchor="{anchor}">{esc(seconds(t))}</text>')
    parts.append(f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{count}</text>')
    parts.append(f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>')
    legend = [
        ("headers", f"response headers {seconds(timings['headers'])}"),
        ("first", f"first event {seconds(timings['first_event'])}"),
        ("gap", f"longest gap {seconds(gap)}" + (f" from {seconds(gap_at)}" if gap_at is not None else "")),
        ("terminator", f"terminator {seconds(timings['terminator'])}"),
        ("events", f"content events received ({timings['content_events']})"),
    ]
    return (
        '<figure class="sse-timeline">'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        'aria-label="Content events received over time">'
        f"{''.join(parts)}</svg>"
        '<figcaption><ul class="sse-legend">'
        + "".join(
            f'<li><span class="sse-swatch" style="background:{COLORS[k]}"></span>{esc(v)}</li>' for k, v in legend
        )
        + "</ul></figcaption></figure>"
    )


def latency_table(timings: Doc) -> str:
    sampled = " (sampled)" if timings["gaps_sampled"] else ""
    rate = timings["events_per_second"]
    rows = [
        ("time to headers", seconds(timings["headers"])),
        ("time to first event", seconds(timings["first_event"])),
        ("time to first content", seconds(timings["first_content"])),
        ("time to first text", seconds(timings["first_text"])),
        (f"gap between content events, p50{sampled}", seconds(timings["gap_p50"])),
        (f"gap between content events, p95{sampled}", seconds(timings["gap_p95"])),
        ("longest gap between events", seconds(timings["gap_max"])),
        ("total", seconds(timings["total"])),
        ("content events", str(timings["content_events"])),
        ("events per second", "—" if rate is None else f"{rate:.1f}"),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="sse-latency"><caption>Latency</caption>{body}</table>'


def _headers(headers: Sequence[Doc]) -> str:
    if not headers:
        return '<p class="sse-empty">no headers</p>'
    rows = "".join(f"<tr><th>{esc(h['name'])}</th><td>{esc(h['value'])}</td></tr>" for h in headers)
    return f'<table class="sse-headers">{rows}</table>'


def exchange(doc: Doc) -> str:
    """The request as sent (secrets redacted) and the response's status line and headers."""
    ex = doc["exchange"]
    req, resp, end = ex["request"], ex["response"], ex["ending"]
    if resp["status"] is None:
        status = '<p class="sse-empty">no response</p>'
    else:
        status = f"<p><code>{esc(resp['http_version'])} {esc(resp['status'])} {esc(resp['reason'])}</code></p>"
    return (
        '<section class="sse-exchange">'
        f"<div><h3>Request sent</h3><p><code>{esc(req['method'])} {esc(req['url'])}</code></p>"
        f'{_headers(req["headers"])}<pre class="sse-body">{esc(req["body"])}</pre></div>'
        f"<div><h3>Response</h3>{status}{_headers(resp['headers'])}"
        f"<p>{esc(plural(resp['body_bytes'], 'byte'))}, {esc(events_phrase(resp['events']))}; "
        f"ended ({esc(end['kind'])}): "
        f"{esc(end['detail'])} at {esc(seconds(end['time']))}</p></div>"
        "</section>"
    )


def stream_section(doc: Doc) -> str:
    return (
        '<section class="sse-stream"><h2>The stream</h2><div class="sse-stream-body">'
        f"{timeline(doc['timings'])}{latency_table(doc['timings'])}</div>{exchange(doc)}</section>"
    )
