// Cabildo's extra natsbench modes (built next to the NATS anchor's unmodified main.go):
//
//	mixed  closed loop; each op is kv.Put with probability 0.5, else the stream-leader read
//	       js.GetLastMsg without DirectGet (as get-leader)
//	watch  --watchers kv.Watch("watch.>") spread round-robin over the --conns pinned
//	       connections, plus an open-loop putter at --rate puts/s to watch.key-NNNNNN
//	       (NATS KV keys cannot contain '/', so the etcd prefix watch/ becomes watch.);
//	       measures delivery lag, lost and duplicate events
//
// main.go rejects unknown modes, so init() handles these two and exits before main() runs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

func init() {
	addModesToUsage("mixed | watch (Cabildo additions)")
	flag.Parse()
	switch *mode {
	case "mixed", "watch":
		natsExtra()
		os.Exit(0)
	}
}

type natsEnv struct {
	eps      []string
	pids     map[string]int
	ctl      *nats.Conn
	cjs      nats.JetStreamContext
	nameToEp map[string]string
	ncs      []*nats.Conn
	jss      []nats.JetStreamContext
	kvs      []nats.KeyValue
	stream   string
}

func natsSetup() *natsEnv {
	e := &natsEnv{eps: strings.Split(*endpoints, ","), pids: parsePids(), nameToEp: map[string]string{},
		stream: "KV_" + *bucket}
	defaultConns()
	url := func(ep string) string {
		if strings.Contains(ep, "://") {
			return ep
		}
		return "nats://" + ep
	}
	for i, ep := range e.eps { // one control connection per endpoint: server name -> endpoint
		nc, err := dial(url(ep), fmt.Sprintf("natsbench-ctl-%d", i)) // main.go's dial
		if err != nil {
			die(1, "dial %s: %v", ep, err)
		}
		e.nameToEp[nc.ConnectedServerName()] = ep
		if e.ctl == nil {
			e.ctl = nc
		}
	}
	var err error
	if e.cjs, err = e.ctl.JetStream(nats.MaxWait(*opTimeout)); err != nil {
		die(1, "jetstream: %v", err)
	}
	if _, err := e.cjs.KeyValue(*bucket); err != nil {
		if !errors.Is(err, nats.ErrBucketNotFound) || !*create {
			die(1, "bind bucket: %v", err)
		}
		if _, err := e.cjs.CreateKeyValue(&nats.KeyValueConfig{Bucket: *bucket, History: 1,
			Storage: nats.FileStorage, Replicas: *replicas}); err != nil {
			die(1, "create bucket: %v", err)
		}
	}
	for i := 0; i < *conns; i++ {
		u := url(e.eps[i%len(e.eps)])
		if !*pin {
			var all []string
			for _, ep := range e.eps {
				all = append(all, url(ep))
			}
			u = strings.Join(all, ",")
		}
		nc, err := dial(u, fmt.Sprintf("natsbench-%d", i))
		if err != nil {
			die(1, "dial: %v", err)
		}
		js, err := nc.JetStream(nats.MaxWait(*opTimeout))
		if err != nil {
			die(1, "jetstream: %v", err)
		}
		kv, err := js.KeyValue(*bucket)
		if err != nil {
			die(1, "bind bucket: %v", err)
		}
		e.ncs, e.jss, e.kvs = append(e.ncs, nc), append(e.jss, js), append(e.kvs, kv)
	}
	return e
}

// streamInfo: bucket summary for bucket_before/after, the stream leader's endpoint, last seq.
func (e *natsEnv) streamInfo() (map[string]interface{}, string, uint64) {
	var si *nats.StreamInfo
	var err error
	for t := 0; t < 100; t++ { // the stream may still be electing a leader
		si, err = e.cjs.StreamInfo(e.stream)
		if err == nil && si.Cluster != nil && si.Cluster.Leader != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return map[string]interface{}{"error": err.Error()}, "", 0
	}
	info := map[string]interface{}{"stream": e.stream, "replicas": si.Config.Replicas,
		"storage": si.Config.Storage.String(), "allow_direct": si.Config.AllowDirect, "msgs": si.State.Msgs,
		"last_seq": si.State.LastSeq, "consumers": si.State.Consumers}
	leader := ""
	if si.Cluster != nil {
		info["leader"] = si.Cluster.Leader
		leader = e.nameToEp[si.Cluster.Leader]
	}
	return info, leader, si.State.LastSeq
}

func (e *natsEnv) result(leader string, before map[string]interface{}) map[string]interface{} {
	srvSync := map[string]string{}
	for ep, p := range e.pids {
		srvSync[ep] = serverSync(p) // main.go's helper
	}
	return map[string]interface{}{
		"label": *label, "mode": *mode, "clients": *clients, "conns": *conns, "pin": *pin,
		"val_size": *valSize, "key_space": *keySpace, "leader_at_start": leader, "endpoints": e.eps,
		"system": "nats-jetstream-kv", "server_version": e.ctl.ConnectedServerVersion(), "client": "nats.go " + nats.Version,
		"bucket_before": before, "server_sync": srvSync,
	}
}

func natsExtra() {
	e := natsSetup()
	if *mode == "mixed" {
		natsMixed(e)
	} else {
		natsWatch(e)
	}
}

func natsMixed(e *natsEnv) {
	keys := make([]string, *keySpace)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%06d", i)
	}
	val := []byte(strings.Repeat("v", *valSize))
	if *prefill {
		next := make(chan int, len(keys))
		for i := range keys {
			next <- i
		}
		close(next)
		var wg sync.WaitGroup
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func(kv nats.KeyValue) {
				defer wg.Done()
				for i := range next {
					if _, err := kv.Put(keys[i], val); err != nil {
						die(1, "prefill: %v", err)
					}
				}
			}(e.kvs[w%len(e.kvs)])
		}
		wg.Wait()
	}
	before, leader, _ := e.streamInfo()
	subjPre := "$KV." + *bucket + "."
	var notFound int64
	cpu := startCPU(e.pids)
	r := runMixed(keys, func(w int, k string, isPut bool) error {
		c := w % len(e.kvs)
		if isPut {
			_, err := e.kvs[c].Put(k, val)
			return err
		}
		_, err := e.jss[c].GetLastMsg(e.stream, subjPre+k) // stream leader only, like get-leader
		if err == nats.ErrMsgNotFound {
			atomic.AddInt64(&notFound, 1)
			return nil
		}
		return err
	})
	cores := cpu.cores(r.wall)
	res := e.result(leader, before)
	after, _, _ := e.streamInfo()
	res["bucket_after"] = after
	res["not_found"] = notFound
	r.fill(res, "stream-leader GetLastMsg, no DirectGet (get-leader)")
	res["cpu_cores"] = cores
	printResult(res)
}

func natsWatch(e *natsEnv) {
	if *watchers < 1 || *rate <= 0 {
		die(2, "watch: need --watchers >= 1 and --rate > 0")
	}
	keys := make([]string, *keySpace)
	for i := range keys {
		keys[i] = fmt.Sprintf("watch.key-%06d", i) // NATS KV keys cannot contain '/'
	}
	// drop watch.* keys left by an earlier run, so that no watcher starts with a backlog of
	// initial values (the watch is established once they have been delivered)
	if err := e.cjs.PurgeStream(e.stream, &nats.StreamPurgeRequest{Subject: "$KV." + *bucket + ".watch.>"}); err != nil {
		die(1, "watch: purging old watch.* keys: %v", err)
	}
	accs := make([]*watchAcc, *watchers)
	kws := make([]nats.KeyWatcher, *watchers)
	stop := make(chan struct{})
	ready := make(chan struct{}, *watchers)
	var wwg sync.WaitGroup
	t0 := time.Now()
	// create the watchers (each is an ordered push consumer) from 16 goroutines
	next := make(chan int, *watchers)
	for j := range accs {
		accs[j] = &watchAcc{}
		next <- j
	}
	close(next)
	var cwg sync.WaitGroup
	var createErr atomic.Value
	for g := 0; g < 16; g++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for j := range next {
				kw, err := e.kvs[j%len(e.kvs)].Watch("watch.>")
				if err != nil {
					createErr.Store(err)
					return
				}
				kws[j] = kw
				a := accs[j]
				wwg.Add(1)
				go func() {
					defer wwg.Done()
					established := false
					for {
						select {
						case <-stop:
							return
						case en, ok := <-kw.Updates():
							if !ok {
								return
							}
							if en == nil { // end of initial values: the watch is established
								if !established {
									established = true
									ready <- struct{}{}
								}
								continue
							}
							if en.Operation() == nats.KeyValuePut {
								a.event(int64(en.Revision()), en.Value(), time.Now().UnixNano())
							}
						}
					}
				}()
			}
		}()
	}
	cwg.Wait()
	if err, _ := createErr.Load().(error); err != nil {
		die(1, "watch: creating watcher: %v", err)
	}
	timeout := time.After(60 * time.Second)
	for j := 0; j < *watchers; j++ {
		select {
		case <-ready:
		case <-timeout:
			die(1, "watch: only %d of %d watchers established after 60s", j, *watchers)
		}
	}
	setup := time.Since(t0).Seconds()

	before, leader, last := e.streamInfo() // stream sequence before the first put
	watchBase = int64(last)
	cpu := startCPU(e.pids)
	start := time.Now()
	pr := runPutter(start, func(i int64, k int, v []byte) error {
		_, err := e.kvs[i%int64(len(e.kvs))].Put(keys[k], v) // round-robin over endpoints
		return err
	})
	cores := cpu.cores(pr.wall)
	created := int64(-1)
	if _, _, l := e.streamInfo(); l > 0 {
		created = int64(l) - watchBase // only our putter writes during the run
	}
	end := waitDelivery(accs, deliveryTarget(pr.ok, created))
	close(stop)
	wwg.Wait()

	res := e.result(leader, before)
	after, _, _ := e.streamInfo()
	res["bucket_after"] = after
	fillWatch(res, pr, accs, start, end, setup, created,
		"NATS KV keys cannot contain '/': keys are watch.key-NNNNNN, watchers use kv.Watch(\"watch.>\")")
	res["cpu_cores"] = cores
	printResult(res)

	// best effort: delete the watchers' ephemeral consumers (bounded wait)
	done := make(chan struct{})
	go func() {
		var sw sync.WaitGroup
		for _, kw := range kws {
			sw.Add(1)
			go func(kw nats.KeyWatcher) { defer sw.Done(); kw.Stop() }(kw)
		}
		sw.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}
