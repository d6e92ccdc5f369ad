// Cabildo additions shared by the three extended anchor load generators (kvbench, zkbench,
// natsbench). examples/bench/anchors/build.sh copies this file next to an anchor's unmodified
// main.go, so it is part of that program's `package main` and uses main.go's package-level
// helpers: cpuTicks, machineTicks, selfCPU, pct and the flag variables (mode, clients, duration,
// total, keySpace, valSize, pidsFlag, seed, ...).
//
// Here: the extra flags, a log-linear histogram (one per watcher, merged at the end, so 1000
// watcher goroutines never share a lock), the closed loop of `--mode mixed`, the open-loop
// putter and the per-watcher event accounting of `--mode watch`, CPU accounting, and printing.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/bits"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	watchers    = flag.Int("watchers", 1000, "watch: number of watchers (subscribers) on the watch prefix")
	rate        = flag.Float64("rate", 5000, "watch: open-loop put rate, puts/s")
	grace       = flag.Duration("grace", 3*time.Second, "watch: after the last put is acked, wait up to this long for undelivered events")
	pacers      = flag.Int("putters", 4, "watch: pacing goroutines of the open-loop putter (each put runs in its own goroutine)")
	maxInflight = flag.Int("max-inflight", 10000, "watch: cap on puts in flight; when reached the putter waits (counted in send_delay_ms)")
)

// addModesToUsage appends our modes to the anchor's --mode help text.
func addModesToUsage(extra string) {
	if f := flag.Lookup("mode"); f != nil {
		f.Usage += " | " + extra
	}
}

// flagSet reports whether the user gave this flag on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func die(code int, format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(code)
}

func parsePids() map[string]int {
	pids := map[string]int{}
	if *pidsFlag == "" {
		return pids
	}
	for _, kv := range strings.Split(*pidsFlag, ",") {
		p := strings.SplitN(kv, "=", 2)
		if len(p) == 2 {
			n, _ := strconv.Atoi(p[1])
			pids[p[0]] = n
		}
	}
	return pids
}

// defaultConns applies the anchors' rule: --conns 0 means min(--clients, 64).
func defaultConns() {
	if *conns <= 0 {
		*conns = *clients
		if *conns > 64 {
			*conns = 64
		}
	}
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
}

// ---------- CPU accounting (same definitions as the anchors' RESULT_JSON cpu_cores) ----------

type cpuMeter struct {
	pids   map[string]int
	srv0   map[string]int64
	mb, ma int64
	self   float64
}

func startCPU(pids map[string]int) *cpuMeter {
	m := &cpuMeter{pids: pids, srv0: map[string]int64{}}
	for e, p := range pids {
		m.srv0[e] = cpuTicks(p)
	}
	m.mb, m.ma = machineTicks()
	m.self = selfCPU()
	return m
}

// cores returns cores used (1.0 = one core busy) over wall seconds since startCPU.
func (m *cpuMeter) cores(wall float64) map[string]float64 {
	mb, ma := machineTicks()
	frac := float64(mb-m.mb) / float64(ma-m.ma)
	cpu := map[string]float64{"loadgen": (selfCPU() - m.self) / wall,
		"machine_busy_frac": frac, "machine_cores": float64(runtime.NumCPU()) * frac}
	var srv float64
	for e, t0 := range m.srv0 {
		t1 := cpuTicks(m.pids[e])
		if t0 >= 0 && t1 >= 0 {
			c := float64(t1-t0) / 100 / wall // USER_HZ = 100
			cpu["server "+e] = c
			srv += c
		}
	}
	cpu["servers_total"] = srv
	cpu["other_cores"] = cpu["machine_cores"] - srv - cpu["loadgen"]
	return cpu
}

// ---------- latency summaries ----------

// latSummary: the anchors' lat_ms object from exact samples (ns).
func latSummary(all []int64) map[string]float64 {
	if len(all) == 0 {
		return nil
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	var sum int64
	for _, v := range all {
		sum += v
	}
	return map[string]float64{"mean": float64(sum) / float64(len(all)) / 1e6,
		"p50": pct(all, .5), "p90": pct(all, .9), "p99": pct(all, .99), "p999": pct(all, .999),
		"max": float64(all[len(all)-1]) / 1e6}
}

// hist: log-linear histogram of microseconds, 32 sub-buckets per power of two (<= 3% error),
// exact max. Not safe for concurrent use: one per goroutine, merge() afterwards.
const histSub = 5

type hist struct {
	c        [(40 - histSub + 1) << histSub]uint32
	n        int64
	sum, max int64 // us
}

func histIdx(v uint64) int {
	if v < 1<<histSub {
		return int(v)
	}
	l := bits.Len64(v)
	i := (l-histSub)<<histSub + int((v>>(l-histSub-1))&(1<<histSub-1))
	if i >= len(hist{}.c) {
		i = len(hist{}.c) - 1
	}
	return i
}

func histLow(i int) float64 { // lower bound of bucket i, us
	if i < 1<<histSub {
		return float64(i)
	}
	l := i>>histSub + histSub
	return float64(uint64(1<<histSub+i&(1<<histSub-1)) << (l - histSub - 1))
}

func (h *hist) add(ns int64) {
	us := ns / 1000
	if us < 0 {
		us = 0
	}
	h.c[histIdx(uint64(us))]++
	h.n++
	h.sum += us
	if us > h.max {
		h.max = us
	}
}

func (h *hist) merge(o *hist) {
	for i, v := range o.c {
		h.c[i] += v
	}
	h.n += o.n
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

func (h *hist) quantile(p float64) float64 { // ms
	if h.n == 0 {
		return 0
	}
	rank := int64(float64(h.n-1)*p) + 1
	var cum int64
	for i, v := range h.c {
		cum += int64(v)
		if cum >= rank {
			mid := (histLow(i) + histLow(i+1)) / 2
			if i < 1<<histSub {
				mid = histLow(i)
			}
			if m := float64(h.max); mid > m {
				mid = m
			}
			return mid / 1e3
		}
	}
	return float64(h.max) / 1e3
}

func (h *hist) summary() map[string]float64 {
	if h.n == 0 {
		return map[string]float64{"p50": 0, "p90": 0, "p99": 0, "max": 0, "mean": 0}
	}
	return map[string]float64{"p50": h.quantile(.5), "p90": h.quantile(.9), "p99": h.quantile(.99),
		"max": float64(h.max) / 1e3, "mean": float64(h.sum) / float64(h.n) / 1e3}
}

// ---------- errors ----------

type errCounter struct {
	mu sync.Mutex
	m  map[string]int
	n  int
}

func (e *errCounter) add(err error) {
	msg := err.Error()
	if len(msg) > 80 {
		msg = msg[:80]
	}
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string]int{}
	}
	e.m[msg]++
	e.n++
	e.mu.Unlock()
}

// ---------- --mode mixed: closed loop, 50% put / 50% strongest read ----------

type mixedResult struct {
	wall        float64
	puts, reads []int64 // ns, successful ops
	errs        errCounter
}

// runMixed runs --clients closed-loop workers for --duration / --total ops. op(w, key, isPut).
func runMixed(keys []string, op func(w int, key string, isPut bool) error) *mixedResult {
	r := &mixedResult{}
	type ws struct{ puts, reads []int64 }
	st := make([]*ws, *clients)
	var issued int64
	start := time.Now()
	deadline := start.Add(*duration)
	var wg sync.WaitGroup
	for w := 0; w < *clients; w++ {
		st[w] = &ws{}
		wg.Add(1)
		go func(w int, s *ws) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(*seed + int64(w)))
			for {
				if *total > 0 && atomic.AddInt64(&issued, 1) > *total {
					return
				}
				t0 := time.Now()
				if *duration > 0 && t0.After(deadline) {
					return
				}
				isPut := rng.Intn(2) == 0
				err := op(w, keys[rng.Intn(len(keys))], isPut)
				d := int64(time.Since(t0))
				switch {
				case err != nil:
					r.errs.add(err)
				case isPut:
					s.puts = append(s.puts, d)
				default:
					s.reads = append(s.reads, d)
				}
			}
		}(w, st[w])
	}
	wg.Wait()
	r.wall = time.Since(start).Seconds()
	for _, s := range st {
		r.puts = append(r.puts, s.puts...)
		r.reads = append(r.reads, s.reads...)
	}
	return r
}

// fill adds the common fields of a mixed run to res.
func (r *mixedResult) fill(res map[string]interface{}, readKind string) {
	all := append(append([]int64{}, r.puts...), r.reads...)
	res["wall_s"] = r.wall
	res["ok"] = len(all)
	res["errors"] = r.errs.n
	res["ops_per_s"] = float64(len(all)) / r.wall
	if s := latSummary(all); s != nil {
		res["lat_ms"] = s
	}
	if s := latSummary(r.puts); s != nil {
		res["lat_ms_put"] = s
	}
	if s := latSummary(r.reads); s != nil {
		res["lat_ms_read"] = s
	}
	res["puts"] = len(r.puts)
	res["reads"] = len(r.reads)
	res["read_kind"] = readKind
	if r.errs.n > 0 {
		res["error_kinds"] = r.errs.m
	}
}

// ---------- --mode watch ----------

// watchBase: revision (etcd) / stream sequence (NATS) right before the first put; events at or
// below it are not part of the run (initial values, earlier runs) and are ignored. -1 = not set.
var watchBase int64 = -1

// watchValue: the decimal send time in unix ns, then 'v' padding up to --val-size bytes.
func watchValue(sendNs int64) []byte {
	b := make([]byte, 0, *valSize+20)
	b = strconv.AppendInt(b, sendNs, 10)
	for len(b) < *valSize {
		b = append(b, 'v')
	}
	return b
}

func sendTimeOf(v []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(v) && i < 19 && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + int64(v[i]-'0')
	}
	return n, i > 0
}

// watchAcc: one watcher's accounting; only its own goroutine writes it (delivered is atomic
// because the grace loop reads it).
type watchAcc struct {
	delivered int64 // unique run events (atomic)
	dups      int64
	ignored   int64 // initial values / events at or below watchBase
	badValue  int64 // no send time in the value
	seen      []uint64
	lag       hist
}

// event records one delivered event with its revision/sequence and value, received at recvNs.
func (a *watchAcc) event(rev int64, val []byte, recvNs int64) {
	base := atomic.LoadInt64(&watchBase)
	if base < 0 || rev <= base {
		a.ignored++
		return
	}
	off := uint64(rev - base - 1)
	w := int(off >> 6)
	for w >= len(a.seen) {
		a.seen = append(a.seen, make([]uint64, len(a.seen)+64)...)
	}
	bit := uint64(1) << (off & 63)
	if a.seen[w]&bit != 0 {
		a.dups++
		return
	}
	a.seen[w] |= bit
	atomic.AddInt64(&a.delivered, 1)
	if s, ok := sendTimeOf(val); ok {
		a.lag.add(recvNs - s)
	} else {
		a.badValue++
	}
}

type putResult struct {
	sent, ok  int64
	lat       []int64 // ns per scheduled put, -1 = failed or not sent
	sendDelay hist    // actual send - scheduled send
	late      int64   // sent > 10 ms after its slot
	wall      float64 // first slot -> last put finished
	errs      errCounter
}

// runPutter: open loop, put i is scheduled at start + i/rate for i < rate*duration. --putters
// pacing goroutines each own every P-th slot; at its slot a pacer starts the put in a new
// goroutine (at most --max-inflight at once), so a slow put does not delay the next ones.
// put(i, key index, value) must be safe for concurrent use.
func runPutter(start time.Time, put func(i int64, key int, val []byte) error) *putResult {
	n := int64(*rate * duration.Seconds())
	if *total > 0 && *total < n {
		n = *total
	}
	r := &putResult{lat: make([]int64, n)}
	period := float64(time.Second) / *rate
	sem := make(chan struct{}, *maxInflight)
	var inflight sync.WaitGroup
	var pw sync.WaitGroup
	delays := make([]hist, *pacers)
	lates := make([]int64, *pacers)
	var sent int64
	for p := 0; p < *pacers; p++ {
		pw.Add(1)
		go func(p int) {
			defer pw.Done()
			rng := rand.New(rand.NewSource(*seed + 1000003*int64(p+1)))
			for i := int64(p); i < n; i += int64(*pacers) {
				slot := start.Add(time.Duration(float64(i) * period))
				if d := time.Until(slot); d > 0 {
					time.Sleep(d)
				}
				sem <- struct{}{}
				key := rng.Intn(*keySpace)
				inflight.Add(1)
				now := time.Now()
				late := now.Sub(slot)
				delays[p].add(int64(late))
				if late > 10*time.Millisecond {
					lates[p]++
				}
				atomic.AddInt64(&sent, 1)
				go func(i int64, t0 time.Time) {
					defer inflight.Done()
					err := put(i, key, watchValue(t0.UnixNano()))
					if err != nil {
						r.lat[i] = -1
						r.errs.add(err)
					} else {
						r.lat[i] = int64(time.Since(t0))
						atomic.AddInt64(&r.ok, 1)
					}
					<-sem
				}(i, now)
			}
		}(p)
	}
	pw.Wait()
	inflight.Wait()
	r.wall = time.Since(start).Seconds()
	r.sent = sent
	for p := range delays {
		r.sendDelay.merge(&delays[p])
		r.late += lates[p]
	}
	return r
}

// waitDelivery waits (after the last put finished) up to --grace until the watchers have
// delivered perWatcher events each in total; returns the end of the delivery window.
// perWatcher: revisions created during the run (server-side count), or puts_ok if unknown.
func waitDelivery(accs []*watchAcc, perWatcher int64) time.Time {
	end := time.Now().Add(*grace)
	want := perWatcher * int64(len(accs))
	for {
		var d int64
		for _, a := range accs {
			d += atomic.LoadInt64(&a.delivered)
		}
		now := time.Now()
		if d >= want || now.After(end) {
			return now
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fillWatch adds the put-side fields (the usual ones: ops_per_s = acked puts/s, lat_ms = put
// latency) and the "watch" object. accs must no longer be written (watcher goroutines ended).
// created: revisions / stream sequences created during the run as the server reports them
// (last - watchBase after the putter ended; -1 = unknown). It exceeds puts_ok when puts that
// failed on the client (timeouts) were committed anyway; those events are delivered too.
func fillWatch(res map[string]interface{}, pr *putResult, accs []*watchAcc, start, deliveryEnd time.Time,
	setupS float64, created int64, note string) {
	var lat []int64
	for _, v := range pr.lat {
		if v > 0 {
			lat = append(lat, v)
		}
	}
	res["wall_s"] = pr.wall
	res["ok"] = pr.ok
	res["errors"] = pr.errs.n
	res["ops_per_s"] = float64(pr.ok) / pr.wall
	if s := latSummary(lat); s != nil {
		res["lat_ms"] = s
	}
	if pr.errs.n > 0 {
		res["error_kinds"] = pr.errs.m
	}
	var lag hist
	var delivered, dups, ignored, bad int64
	complete := 0
	minD := int64(-1)
	for _, a := range accs {
		lag.merge(&a.lag)
		delivered += a.delivered
		dups += a.dups
		ignored += a.ignored
		bad += a.badValue
		if a.delivered >= pr.ok && a.delivered >= created {
			complete++
		}
		if minD < 0 || a.delivered < minD {
			minD = a.delivered
		}
	}
	expected := pr.ok * int64(len(accs))
	lost := expected - delivered
	if lost < 0 {
		lost = 0
	}
	window := deliveryEnd.Sub(start).Seconds()
	ls := lag.summary()
	w := map[string]interface{}{
		"watchers": len(accs), "rate": *rate, "puts_ok": pr.ok, "puts_sent": pr.sent,
		"events_expected": expected, "events_delivered": delivered, "events_lost": lost, "duplicates": dups,
		"lag_ms":            map[string]float64{"p50": ls["p50"], "p90": ls["p90"], "p99": ls["p99"], "max": ls["max"], "mean": ls["mean"]},
		"delivery_per_s":    float64(delivered) / window,
		"delivery_window_s": window, "grace_s": grace.Seconds(), "watchers_complete": complete,
		"min_delivered_per_watcher": minD, "ignored_pre_run_events": ignored, "values_without_send_time": bad,
		"send_delay_ms":       map[string]float64{"p50": pr.sendDelay.quantile(.5), "p99": pr.sendDelay.quantile(.99), "max": float64(pr.sendDelay.max) / 1e3},
		"puts_sent_late_10ms": pr.late, "putters": *pacers, "max_inflight": *maxInflight,
		"achieved_send_rate": float64(pr.sent) / duration.Seconds(), "watch_setup_s": setupS,
	}
	if created >= 0 {
		w["revisions_created"] = created
		w["events_expected_by_revision"] = created * int64(len(accs))
		l := created*int64(len(accs)) - delivered
		if l < 0 {
			l = 0
		}
		w["events_lost_by_revision"] = l
	}
	if note != "" {
		w["note"] = note
	}
	res["watch"] = w
}

// deliveryTarget: events each watcher should get: the server-side count when known.
func deliveryTarget(putsOK, created int64) int64 {
	if created > putsOK {
		return created
	}
	return putsOK
}

func printResult(res map[string]interface{}) {
	pretty, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(pretty))
	line, _ := json.Marshal(res)
	fmt.Println("RESULT_JSON " + string(line))
}
