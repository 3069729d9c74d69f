#!/usr/bin/env python3
"""Straightforward Python sessionizer: the baseline of bench/cli.ts.

    python3 bench/reference_sessionize.py FILE.jsonl [--gap SECONDS] [--max-duration SECONDS] > sessions.jsonl

The same rules as `sessions sessionize` (DESIGN.md, "Session rules"): read
every line, json.loads it, group events by user, sort each user's events by
(timestamp, line number), cut a new session when the gap to the previous
event exceeds GAP or the session would reach MAX_DURATION, and print one JSON
line per session (user, start, end, duration, counts, top channel). Holds the
whole file in memory, as a plain script would.
"""
import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime, timezone


def parse_ts(value):
    if isinstance(value, (int, float)):
        return value if abs(value) < 1e11 else value / 1000.0
    text = value.replace("Z", "+00:00").replace("z", "+00:00")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def iso(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def emit(out, user, events):
    first, last = events[0], events[-1]
    names = defaultdict(int)
    channels = {}
    for ts, line_no, name, channel in events:
        names[name] += 1
        if channel is not None:
            if channel not in channels:
                channels[channel] = [0, ts, line_no]
            channels[channel][0] += 1
    top = None
    if channels:
        top = min(channels, key=lambda c: (-channels[c][0], channels[c][1], channels[c][2], c))
    out.write(json.dumps({
        "userId": user,
        "startedAt": iso(first[0]),
        "endedAt": iso(last[0]),
        "durationSeconds": last[0] - first[0],
        "eventCount": len(events),
        "eventCounts": names,
        "topChannel": top,
        "topChannelCount": channels[top][0] if top is not None else None,
        "firstEventName": first[2],
        "lastEventName": last[2],
    }))
    out.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--gap", type=float, default=30.0)
    ap.add_argument("--max-duration", type=float, default=86400.0)
    args = ap.parse_args()
    by_user = defaultdict(list)
    with open(args.file, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            e = json.loads(line)
            name = e.get("name") or e.get("event_name") or e.get("event_type") or e.get("event")
            user = e.get("userId") or e.get("user_id")
            ts = e.get("timestamp") or e.get("ts") or e.get("time") or e.get("event_time")
            channel = e.get("channelId") or e.get("channel_id")
            by_user[str(user)].append((parse_ts(ts), line_no, name, channel))
    out = sys.stdout
    for user, events in by_user.items():
        events.sort()
        current = [events[0]]
        for e in events[1:]:
            if e[0] - current[-1][0] > args.gap or e[0] - current[0][0] >= args.max_duration:
                emit(out, user, current)
                current = [e]
            else:
                current.append(e)
        emit(out, user, current)


if __name__ == "__main__":
    main()
