#!/usr/bin/env python3
"""Drives a `shielddiff train` run while killing its children, then reports what it survived.

    faults.py chaos BIN RUN_DIR SECONDS_BETWEEN_KILLS [train options...]
    faults.py soak  BIN RUN_DIR MINUTES [train options...]

chaos: the default real fine-tuning; every SECONDS a random child is SIGKILLed (every third kill
the learner) until the run ends by itself (0 = no kills: the undisturbed baseline); then the
report and the before/after table of `shielddiff compare`.
soak: the test policy with 8 actors and 4 reward workers for MINUTES; an actor or reward worker
SIGKILLed every 30 s; the learner's RSS, fds, sockets, threads and update rate every minute.
Used by scripts/chaos.sh and scripts/soak.sh.
"""
import json, os, random, re, signal, statistics, subprocess, sys, time

LINE = re.compile(r"^\[(\d\d):(\d\d):(\d\d\.\d+) ([^\]]+)\] (.*)$")
STARTED = re.compile(r"started (\S+) \(pid (\d+)\)")


def day_seconds(t):
    return t % 86400


class Run:
    def __init__(self, binary, run_dir, train_args):
        self.binary, self.dir = binary, run_dir
        os.makedirs(run_dir, exist_ok=True)
        self.log_path = os.path.join(run_dir, "train.log")
        self.log_file = open(self.log_path, "w")
        self.started = time.time()
        self.process = subprocess.Popen([binary, "train", "--run-dir", run_dir] + train_args,
                                        stdout=self.log_file, stderr=subprocess.STDOUT)
        self.offset, self.lines = 0, []
        self.pids = {}          # child name -> current pid
        self.all_pids = set()   # every child pid ever started

    def poll_log(self):
        with open(self.log_path, errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
        cut = text.rfind("\n") + 1
        self.offset += len(text[:cut].encode())
        for raw in text[:cut].splitlines():
            m = LINE.match(raw)
            if not m:
                continue
            h, mi, s, who, msg = m.groups()
            entry = (int(h) * 3600 + int(mi) * 60 + float(s), who, msg)
            self.lines.append(entry)
            st = STARTED.search(msg) if who == "supervisor" else None
            if st:
                self.pids[st.group(1)] = int(st.group(2))
                self.all_pids.add(int(st.group(2)))

    def alive(self):
        return self.process.poll() is None

    def last_update_time(self):
        for t, who, msg in reversed(self.lines):
            if who == "learner" and re.match(r"update \d+ → v\d+", msg):
                return t
        return None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def children_names(run, roles):
    return sorted(n for n in run.pids if any(n.startswith(r) for r in roles))


def after(lines, t, who, pattern, exclude=None):
    """The first (time, match) of `pattern` in `who`'s lines at or after t."""
    for lt, lw, msg in lines:
        if lt >= t and lw == who:
            m = re.search(pattern, msg)
            if m and (exclude is None or exclude not in msg):
                return lt, m
    return None, None


def before(lines, t, who, pattern):
    found = None
    for lt, lw, msg in lines:
        if lt > t:
            break
        if lw == who:
            m = re.search(pattern, msg)
            if m:
                found = (lt, m)
    return found or (None, None)


def percentile_line(values, unit="s"):
    if not values:
        return "none"
    return f"median {statistics.median(values):.2f} {unit}, max {max(values):.2f} {unit} ({len(values)})"


def report_rejoins(run, kills):
    lines, rejoin, learner_back, learner_first, lost = run.lines, [], [], [], []
    per_role = {}
    for t, name, pid in kills:
        role = "learner" if name == "learner" else ("actor" if name.startswith("actor") else "reward worker")
        per_role[role] = per_role.get(role, 0) + 1
        if role == "actor":
            lt, _ = after(lines, t, "learner", rf"actor {re.escape(name)} \(pid (?!{pid}\b)\d+")
        elif role == "reward worker":
            lt, _ = after(lines, t, "learner", rf"reward worker {re.escape(name)} \(pid (?!{pid}\b)\d+\) joined")
        else:
            lt, _ = after(lines, t, "learner", r"^run \S+: version \d+")
            ft, fm = after(lines, t, "learner", r"first update of this life ([0-9.]+) s")
            if fm:
                learner_first.append(float(fm.group(1)))
            _, bm = before(lines, t, "learner", r"update \d+ → v(\d+)")
            _, rm = after(lines, t, "learner", r"resumed from \S+: version (\d+)")
            if bm and rm:
                lost.append(max(0, int(bm.group(1)) - int(rm.group(1))))
            if lt is not None:
                learner_back.append(lt - t)
        if lt is not None and role != "learner":
            rejoin.append(lt - t)
    return per_role, rejoin, learner_back, learner_first, lost


def metrics_lives(run_dir):
    """The last metrics line of each learner life (counters restart with each life)."""
    path = os.path.join(run_dir, "metrics.jsonl")
    lives, previous = [], None
    if not os.path.exists(path):
        return lives
    with open(path) as f:
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if previous is not None and line.get("trajectories_accepted_total", 0) < previous.get("trajectories_accepted_total", 0):
                lives.append(previous)
            previous = line
    if previous is not None:
        lives.append(previous)
    return lives


def dropped_report(run, kills):
    lives = metrics_lives(run.dir)
    sums = {}
    for life in lives:
        for key, value in life.items():
            if key.startswith("rejected_") and key.endswith("_total") or key == "stale_in_buffer_total":
                sums[key] = sums.get(key, 0) + int(value)
    buffered_at_death = 0
    for t, name, _ in kills:
        if name != "learner":
            continue
        # the learner's buffer just before it died: the last metrics line written before the kill
        _, m = before(run.lines, t, "learner", r"update \d+ → v(\d+)")
        if m:
            buffered_at_death += last_buffered(run.dir, int(m.group(1)))
    resent = discarded = stale = 0
    for _, who, msg in run.lines:
        m = re.search(r"kept over the learner's restart: (\d+) batch\(es\) resent, (\d+) discarded .*?, (\d+) stale", msg)
        if m:
            resent += int(m.group(1)); discarded += int(m.group(2)); stale += int(m.group(3))
    return sums, buffered_at_death, resent, discarded, stale


def last_buffered(run_dir, version):
    value = 0
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("version") == version:
                value = int(line.get("buffered", 0))
    return value


def stop_everything(run):
    if run.alive():
        run.process.send_signal(signal.SIGTERM)
        try:
            run.process.wait(60)
        except subprocess.TimeoutExpired:
            run.process.kill()
    for pid in run.all_pids:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def left_behind(run):
    deadline = time.time() + 5
    while time.time() < deadline:
        left = [p for p in run.all_pids if pid_alive(p)]
        if not left:
            return []
        time.sleep(0.2)
    return left


def chaos(binary, run_dir, interval, train_args):
    run = Run(binary, run_dir, train_args)
    kills, count, hang = [], 0, False
    next_kill = time.time() + interval if interval > 0 else float("inf")
    while run.alive():
        time.sleep(0.2)
        run.poll_log()
        now = time.time()
        last = run.last_update_time()
        # A hang: no update for 5 minutes (an undisturbed update takes ~4 s).
        if now - run.started > 300 and (last is None or day_seconds(now) - last > 300):
            hang = True
            print("chaos: no update for 5 minutes: a hang; stopping the run", flush=True)
            stop_everything(run)
            break
        if now >= next_kill:
            next_kill = now + interval
            count += 1
            names = ["learner"] if count % 3 == 0 else children_names(run, ["actor", "reward"])
            name = random.choice(names)
            pid = run.pids.get(name)
            if pid and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                kills.append((day_seconds(time.time()), name, pid))
                print(f"chaos: kill {len(kills)}: SIGKILL {name} (pid {pid})", flush=True)
    run.process.wait()
    run.poll_log()
    elapsed = time.time() - run.started
    left = left_behind(run)
    per_role, rejoin, learner_back, learner_first, lost = report_rejoins(run, kills)
    sums, buffered, resent, discarded, stale = dropped_report(run, kills)
    restarts = sum(1 for _, who, msg in run.lines if who == "supervisor" and "restart" in msg and "died" in msg)
    ended = [msg for _, who, msg in run.lines if who == "learner" and msg.startswith("ending the run")]
    versions = [int(m.group(1)) for _, who, msg in run.lines if who == "learner" for m in [re.match(r"update \d+ → v(\d+)", msg)] if m]
    writes = [float(m.group(1)) for _, who, msg in run.lines if who == "learner"
              for m in [re.search(r"checkpoint checkpoint-v\d+\.safetensors \(([0-9.]+) s\)", msg)] if m]
    print("\n## chaos report")
    print(f"- run: {run_dir}, train exit status {run.process.returncode}, {elapsed:.0f} s from start to end")
    print(f"- ended by: {ended[-1] if ended else 'NOT by the learner (see train.log)'}")
    print(f"- hangs: {1 if hang else 0}; processes left behind after the end: {len(left)} {left if left else ''}")
    print(f"- kills: {len(kills)} every {interval} s — " + ", ".join(f"{k}: {v}" for k, v in sorted(per_role.items())))
    print(f"- restarts by the supervisor: {restarts}")
    print(f"- actor / reward worker back (kill → welcomed by the learner again): {percentile_line(rejoin)}")
    print(f"- learner back (kill → serving again): {percentile_line(learner_back)}")
    first_life = next((float(m.group(1)) for _, who, msg in run.lines if who == "learner"
                       for m in [re.search(r"first update of this life ([0-9.]+) s", msg)] if m), None)
    print(f"- learner start → its first update: first life {first_life if first_life is not None else '-'} s; "
          f"after a kill {percentile_line(learner_first)}")
    print(f"- updates lost to learner restarts: {sum(lost)} ({lost}); updates made in all: {len(versions)}, final version {versions[-1] if versions else '-'}")
    print(f"- checkpoint writes: {percentile_line(writes)}")
    print(f"- trajectories dropped by the learner: " + (", ".join(f"{k[:-6]}: {v}" for k, v in sorted(sums.items())) or "none")
          + " (overloaded = flow control, resent by the actor)")
    print(f"- buffered in the learner when it died (lost with it): {buffered} trajectories")
    print(f"- actors' batches held over learner restarts: {resent} resent, {discarded} discarded (version lost), {stale} stale")
    return run, bool(ended) and not hang and not left and run.process.returncode == 0


def soak(binary, run_dir, minutes, train_args):
    run = Run(binary, run_dir, train_args)
    kills, records = [], []
    start = time.time()
    next_kill, next_record = start + 30, start + 60
    end = start + minutes * 60
    while run.alive() and time.time() < end:
        time.sleep(0.2)
        run.poll_log()
        now = time.time()
        if now >= next_kill:
            next_kill = now + 30
            name = random.choice(children_names(run, ["actor", "reward"]))
            pid = run.pids.get(name)
            if pid and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                kills.append((day_seconds(time.time()), name, pid))
        if now >= next_record:
            next_record += 60
            records.append(sample_learner(run, now - start))
            r = records[-1]
            print(f"soak: minute {len(records)}: RSS {r['rss_kib']} KiB (max {r['rss_max_kib']}, anonymous {r['anon_kib']}), fds {r['fds']}, sockets {r['sockets']}, "
                  f"threads {r['threads']}, {r['updates_per_second']:.1f} updates/s", flush=True)
    stop_everything(run)
    run.poll_log()
    left = left_behind(run)
    per_role, rejoin, _, _, _ = report_rejoins(run, kills)
    print("\n## soak report")
    print(f"- run: {run_dir}, {minutes} min, train exit status {run.process.returncode}")
    print(f"- kills: {len(kills)} every 30 s — " + ", ".join(f"{k}: {v}" for k, v in sorted(per_role.items())))
    print(f"- killed process back (kill → welcomed again): {percentile_line(rejoin)}; "
          f"within 5 s: {sum(1 for r in rejoin if r <= 5)}/{len(kills)}")
    print(f"- processes left behind after the end: {len(left)}")
    print("| minute | learner RSS, median of 5 (KiB) | highest reading (KiB) | of it anonymous (KiB) | fds | sockets | threads | updates/s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for i, r in enumerate(records):
        print(f"| {i + 1} | {r['rss_kib']} | {r['rss_max_kib']} | {r['anon_kib']} | {r['fds']} | {r['sockets']} | {r['threads']} | {r['updates_per_second']:.1f} |")
    if len(records) >= 2:
        first, last = records[0], records[-1]
        growth = 100 * (last["rss_kib"] - first["rss_kib"]) / max(first["rss_kib"], 1)
        anon = 100 * (last["anon_kib"] - first["anon_kib"]) / max(first["anon_kib"], 1)
        print(f"- growth after the first minute: RSS {growth:+.1f}% (anonymous {anon:+.1f}%), fds {last['fds'] - first['fds']:+d}, "
              f"sockets {last['sockets'] - first['sockets']:+d}, threads {last['threads'] - first['threads']:+d}")
        worst = max(range(1, len(records)), key=lambda i: records[i]["rss_kib"])
        print(f"- largest RSS after the first minute: {records[worst]['rss_kib']} KiB at minute {worst + 1} "
              f"({100 * (records[worst]['rss_kib'] - first['rss_kib']) / max(first['rss_kib'], 1):+.1f}%)")
    return run, not left


def sample_learner(run, elapsed):
    """The learner's figures for one minute's record. RSS, fds, sockets and threads are the
    median of 5 readings 0.5 s apart, because a checkpoint write in flight (every second by
    default) holds its encoded file and one more fd for a few hundred ms, and one reading that
    lands inside it would count a transient as growth; the highest RSS reading is kept too."""
    readings = []
    for i in range(5):
        if i:
            time.sleep(0.5)
        readings.append(read_process(run.pids.get("learner")))
    now = day_seconds(time.time())
    recent = sum(1 for t, who, msg in run.lines if who == "learner" and now - 60 <= t and re.match(r"update \d+ → v", msg))
    record = {key: int(statistics.median(r[key] for r in readings)) for key in ("rss_kib", "anon_kib", "threads", "fds", "sockets")}
    record["rss_max_kib"] = max(r["rss_kib"] for r in readings)
    record["updates_per_second"] = recent / 60
    return record


def read_process(pid):
    """VmRSS and its anonymous part RssAnon (KiB), threads, open fds and sockets of a process;
    zeros if it is gone. The rest of VmRSS is file pages: shared libraries' code, which grows
    as code paths run for the first time and is shared with every other shielddiff process."""
    rss = anon = threads = fds = sockets = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        for fd in os.listdir(f"/proc/{pid}/fd"):
            fds += 1
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    sockets += 1
            except OSError:
                pass
    except (OSError, TypeError):
        pass
    return {"rss_kib": rss, "anon_kib": anon, "threads": threads, "fds": fds, "sockets": sockets}


def main():
    mode, binary, run_dir, amount = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    extra = sys.argv[5:]
    if mode == "chaos":
        _, ok = chaos(binary, run_dir, amount, extra)
    else:
        _, ok = soak(binary, run_dir, amount, extra)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
