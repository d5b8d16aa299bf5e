# Sourced by scripts/restore-rate and scripts/state-age, never run: the figures of the restores a
# `vigil run` log reports. The caller runs bash with `set -euo pipefail` from the repository root.

# restore_figures LOG: "N changes, S s summed over partitions, W s wall" from the log's lines
# "partition P: restored N changes from the changelog in S s": the changes and the partitions'
# seconds summed, and the wall time from the first restore's start to the last one's end (the lines'
# timestamps less their seconds; partitions restore in parallel, so the wall time is what a rebalance
# or a restart waits for).
restore_figures() {
  grep 'restored [0-9]* changes from the changelog' "$1" | /usr/bin/python3 -c '
import datetime, re, sys
changes, seconds, starts, ends = 0, 0.0, [], []
for line in sys.stdin:
    m = re.search(r"restored (\d+) changes from the changelog in ([0-9.]+) s", line)
    changes += int(m.group(1))
    seconds += float(m.group(2))
    try:
        end = datetime.datetime.fromisoformat(line.split()[0]).timestamp()
    except ValueError:
        continue
    ends.append(end)
    starts.append(end - float(m.group(2)))
wall = max(ends) - min(starts) if ends else seconds
print("%d changes, %.3f s summed over partitions, %.3f s wall" % (changes, seconds, wall))'
}
