#!/usr/bin/env python3
"""The store's writer thread's CPU time per commit in one `walship bench write` run.

Usage: scripts/writer-cpu.py JAR_DIR THREADS COUNT durable|async [DATA_DIR]

JAR_DIR holds walship.jar and jvm.flags (cli/target after `mvn -B -o -q package -DskipTests -pl
cli -am`, or a copy of them). Runs `bench write --threads THREADS --count COUNT --runs 1 --keys
100000 --value-size 100 --no-baseline` (with --async for async) and polls /proc every 50 ms for
the CPU time (user + system) of the thread named walship-writer and of the whole process. Prints
commits/s as bench printed it and both CPU times per commit, counting the run's unmeasured async
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


def cpu_seconds(stat_path):
    fields = open(stat_path).read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


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
    process = 0.0
    while p.poll() is None:
        for task in glob.glob(f'/proc/{p.pid}/task/*'):
            try:
                if open(task + '/comm').read().strip() == 'walship-writer':
                    writers[task] = cpu_seconds(task + '/stat')
            except OSError:
                pass  # the thread ended meanwhile
        try:
            process = cpu_seconds(f'/proc/{p.pid}/stat')
        except OSError:
            pass
        time.sleep(0.05)
    out = p.stdout.read()
    subprocess.run(['rm', '-rf', data], check=True)
    store = [line for line in out.splitlines() if line.startswith('store ') and not line.startswith('store /')]
    if p.returncode != 0 or not store:
        sys.exit(out)
    commits = int(count) + min(int(count) // 5, 20_000)
    writer = sum(writers.values())
    print(f'{mode} threads {threads}: {store[0].split()[1]} commits/s, writer CPU {writer:.2f} s = '
          f'{1e6 * writer / commits:.2f} us/commit, process CPU {process:.2f} s = {1e6 * process / commits:.2f} us/commit')


if __name__ == '__main__':
    main()
