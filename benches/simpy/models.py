"""The simulator's three reference models in SimPy, timed for comparison.

Twins of `code/src/sim_models/` (model A: timeouts, B: ping-pong, C: M/M/1), written the way
the SimPy documentation writes such models. One time unit is one second of virtual time on both
sides. Each model runs three times; the best wall time counts (time.perf_counter), as on the
Rust side. Prints one JSON object on stdout.

Run through `cargo run --release -p uds-benches --bin simpy_compare`, which installs the pinned
SimPy (requirements.txt) into benches/simpy/.venv first.
"""

import json
import platform
import random
import sys
import time

import simpy

REPEATS = 3

# Model A: 1,000 processes, each waiting 1,000 times for a timeout of 1 s.
A_PROCESSES = 1_000
A_TIMEOUTS_EACH = 1_000

# Model B: 200,000 round trips of put, get, timeout(1), put back.
B_ROUND_TRIPS = 200_000

# Model C: M/M/1, lambda = 1, mu = 1.1, 200,000 customers, seeded, FIFO.
C_ARRIVAL_RATE = 1.0
C_SERVICE_RATE = 1.1
C_CUSTOMERS = 200_000
C_SEED = 1


def waiter(env, timeouts, counter):
    for _ in range(timeouts):
        yield env.timeout(1)
        counter[0] += 1


def model_a():
    env = simpy.Environment()
    fired = [0]
    for _ in range(A_PROCESSES):
        env.process(waiter(env, A_TIMEOUTS_EACH, fired))
    env.run()
    return {"timeouts": fired[0], "end": env.now}


def pinger(env, to_ponger, to_pinger, round_trips, done):
    for k in range(round_trips):
        yield to_ponger.put(k)
        pong = yield to_pinger.get()
        assert pong == k
        done[0] += 1


def ponger(env, to_ponger, to_pinger):
    while True:
        ping = yield to_ponger.get()
        yield env.timeout(1)
        yield to_pinger.put(ping)


def model_b():
    env = simpy.Environment()
    to_ponger = simpy.Store(env)
    to_pinger = simpy.Store(env)
    done = [0]
    env.process(pinger(env, to_ponger, to_pinger, B_ROUND_TRIPS, done))
    env.process(ponger(env, to_ponger, to_pinger))
    # The ponger waits forever for the next ping; the run ends when no event is left.
    env.run()
    return {"round_trips": done[0], "end": env.now}


def customer(env, server, rng, stats):
    arrived = env.now
    with server.request() as request:
        yield request
        stats["wait"] += env.now - arrived
        yield env.timeout(rng.expovariate(C_SERVICE_RATE))
    stats["system"] += env.now - arrived
    stats["served"] += 1


def source(env, server, rng, stats):
    for _ in range(C_CUSTOMERS):
        yield env.timeout(rng.expovariate(C_ARRIVAL_RATE))
        env.process(customer(env, server, rng, stats))


def model_c():
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)  # FIFO by construction
    rng = random.Random(C_SEED)
    stats = {"wait": 0.0, "system": 0.0, "served": 0}
    env.process(source(env, server, rng, stats))
    env.run()
    served = stats["served"]
    return {
        "customers": served,
        "end": env.now,
        "mean_wait_s": stats["wait"] / served,
        "mean_time_in_system_s": stats["system"] / served,
    }


def best_of(model):
    best = None
    result = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = model()
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    return result, best


def main():
    a, a_s = best_of(model_a)
    b, b_s = best_of(model_b)
    c, c_s = best_of(model_c)
    out = {
        "python": platform.python_version(),
        "simpy": simpy.__version__,
        "repeats": REPEATS,
        "timeouts": dict(a, seconds=a_s, events_per_s=a["timeouts"] / a_s),
        "ping_pong": dict(b, seconds=b_s, round_trips_per_s=b["round_trips"] / b_s),
        "mm1": dict(c, seconds=c_s, customers_per_s=c["customers"] / c_s),
    }
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
