#!/usr/bin/env python3
"""The store's writer thread's CPU time per commit in one `walship bench write` run.

Usage: scripts/writer-cpu.py JAR_DIR THREADS COUNT durable|async [DATA_DIR]

JAR_DIR holds walship.jar and jvm.flags (cli/target after `mvn -B -o -q package -DskipTests -pl
cli -am`, or a copy of them). Runs `bench write --threads THREADS --count COUNT --runs 1 --keys
100000 --value-size 100 --no-baseline` (with --async for async) and polls /proc every 50 ms for
the CPU time (user + system) of the thread named walship-writer and of the whole process, and the
minor page faults of the writer, of the thread walship-syncer and of the process, and the bytes
the process caused to be written to storage (/proc/PID/io write_bytes: WAL and page-file pages
it dirtied, each counted once per write-back). Prints commits/s as bench printed it, both CPU
times per commit, the faults and the bytes written per commit, counting the run's unmeasured async
warm-up (COUNT/5, at most 20,000 commits: the writer applies those too). The last 50 ms of the
writer are not seen, and the JIT's early work is included: use a COUNT of some 100,000s.

On a machine shared with other work, wall-clock throughput moves with the neighbours; CPU time
per commit of the one thread that serialises commits moves much less (issue 13).
"""
import glob
import os
import subprocess
import sys
import time


def stat(stat_path):
    """(CPU seconds, user + system; minor page faults) of a process or thread."""
    fields = open(stat_path).read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK'), int(fields[7])


def io_written(pid):
    """Bytes the process caused to be written to storage (/proc/PID/io write_bytes: pages it dirtied)."""
    for line in open(f'/proc/{pid}/io'):
        if line.startswith('write_bytes:'):
            return int(line.split()[1])
    return 0


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[4] not in ('durable', 'async'):
        sys.exit(__doc__)
    jar_dir, threads, count, mode = sys.argv[1:5]
    data = sys.argv[5] if len(sys.argv) == 6 else '/tmp/writer-cpu'
    subprocess.run(['rm', '-rf', data], check=True)
    flags = open(os.path.join(jar_dir, 'jvm.flags')).read().split()
    cmd = ['java'] + flags + ['-jar', os.path.join(jar_dir, 'walship.jar'), 'bench', 'write', '--data', data,
                              '--threads', threads, '--count', count, '--runs', '1', '--keys', '100000',
                              '--value-size', '100', '--no-baseline'] + (['--async'] if mode == 'async' else [])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    writers = {}
    syncers = {}
    process = (0.0, 0)
    written = 0
    while p.poll() is None:
        for task in glob.glob(f'/proc/{p.pid}/task/*'):
            try:
                name = open(task + '/comm').read().strip()
                if name == 'walship-writer':
                    writers[task] = stat(task + '/stat')
                elif name == 'walship-syncer':
                    syncers[task] = stat(task + '/stat')
            except OSError:
                pass  # the thread ended meanwhile
        try:
            process = stat(f'/proc/{p.pid}/stat')
            written = io_written(p.pid)
        except OSError:
            pass
        time.sleep(0.05)
    out = p.stdout.read()
    subprocess.run(['rm', '-rf', data], check=True)
    store = [line for line in out.splitlines() if line.startswith('store ') and not line.startswith('store /')]
    if p.returncode != 0 or not store:
        sys.exit(out)
    commits = int(count) + min(int(count) // 5, 20_000)
    writer = sum(w[0] for w in writers.values())
    writer_faults = sum(w[1] for w in writers.values())
    syncer_faults = sum(w[1] for w in syncers.values())
    print(f'{mode} threads {threads}: {store[0].split()[1]} commits/s, writer CPU {writer:.2f} s = '
          f'{1e6 * writer / commits:.2f} us/commit, process CPU {process[0]:.2f} s = {1e6 * process[0] / commits:.2f} '
          f'us/commit; minor faults per commit: writer {writer_faults / commits:.2f}, syncer '
          f'{syncer_faults / commits:.2f}, process {process[1] / commits:.2f}; written {written / commits:.0f} B/commit')


if __name__ == '__main__':
    main()
