// Cabildo's extra kvbench modes (built next to the etcd anchor's unmodified main.go):
//
//	mixed  closed loop; each op is a Put with probability 0.5, else a linearizable Get (as get-l)
//	watch  --watchers clientv3 watches (WithPrefix "watch/", WithCreatedNotify) spread round-robin
//	       over the --conns pinned clients, plus an open-loop putter at --rate puts/s to
//	       watch/key-NNNNNN; measures delivery lag, lost and duplicate events
//
// main.go rejects unknown modes, so init() handles these two and exits before main() runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func init() {
	addModesToUsage("mixed | watch (Cabildo additions)")
	flag.Parse()
	switch *mode {
	case "mixed":
		etcdMixed()
		os.Exit(0)
	case "watch":
		etcdWatch()
		os.Exit(0)
	}
}

// etcdClients dials --conns clients, client i pinned to endpoint i%N (with --pin, the default).
func etcdClients(eps []string) []*clientv3.Client {
	cl := make([]*clientv3.Client, *conns)
	for i := range cl {
		e := eps
		if *pin {
			e = []string{eps[i%len(eps)]}
		}
		c, err := clientv3.New(clientv3.Config{Endpoints: e, DialTimeout: 5 * time.Second})
		if err != nil {
			die(1, "dial: %v", err)
		}
		cl[i] = c
	}
	return cl
}

func etcdLeader(c *clientv3.Client, eps []string) string {
	for _, e := range eps {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := c.Status(ctx, e)
		cancel()
		if err == nil && s.Header.MemberId == s.Leader {
			return e
		}
	}
	return ""
}

func etcdBaseResult(eps []string, leader string) map[string]interface{} {
	return map[string]interface{}{
		"label": *label, "mode": *mode, "clients": *clients, "conns": *conns, "pin": *pin,
		"val_size": *valSize, "key_space": *keySpace, "leader_at_start": leader, "endpoints": eps,
		"system": "etcd",
	}
}

func etcdMixed() {
	eps := strings.Split(*endpoints, ",")
	pids := parsePids()
	defaultConns()
	cl := etcdClients(eps)
	keys := make([]string, *keySpace)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%06d", i)
	}
	val := strings.Repeat("v", *valSize)
	bg := context.Background()
	if *prefill {
		var wg sync.WaitGroup
		next := make(chan int, len(keys))
		for i := range keys {
			next <- i
		}
		close(next)
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := range next {
					ctx, cancel := context.WithTimeout(bg, *opTimeout)
					_, err := cl[w%len(cl)].Put(ctx, keys[i], val)
					cancel()
					if err != nil {
						die(1, "prefill: %v", err)
					}
				}
			}(w)
		}
		wg.Wait()
	}
	leader := etcdLeader(cl[0], eps)
	cpu := startCPU(pids)
	r := runMixed(keys, func(w int, k string, isPut bool) error {
		ctx, cancel := context.WithTimeout(bg, *opTimeout)
		defer cancel()
		c := cl[w%len(cl)]
		if isPut {
			_, err := c.Put(ctx, k, val)
			return err
		}
		_, err := c.Get(ctx, k) // linearizable (clientv3 default), like get-l
		return err
	})
	res := etcdBaseResult(eps, leader)
	r.fill(res, "linearizable Get (get-l)")
	res["cpu_cores"] = cpu.cores(r.wall)
	printResult(res)
	for _, c := range cl {
		c.Close()
	}
}

func etcdWatch() {
	eps := strings.Split(*endpoints, ",")
	pids := parsePids()
	defaultConns()
	if *watchers < 1 || *rate <= 0 {
		die(2, "watch: need --watchers >= 1 and --rate > 0")
	}
	cl := etcdClients(eps)
	bg := context.Background()
	keys := make([]string, *keySpace)
	for i := range keys {
		keys[i] = fmt.Sprintf("watch/key-%06d", i)
	}

	// watchers first; each is established when etcd acknowledges its creation
	wctx, wcancel := context.WithCancel(bg)
	accs := make([]*watchAcc, *watchers)
	stop := make(chan struct{})
	createdc := make(chan error, *watchers)
	var wwg sync.WaitGroup
	t0 := time.Now()
	for j := range accs {
		a := &watchAcc{}
		accs[j] = a
		wch := cl[j%len(cl)].Watch(wctx, "watch/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			first := true
			for {
				select {
				case <-stop:
					return
				case wr, ok := <-wch:
					if !ok {
						if first {
							createdc <- fmt.Errorf("watch channel closed before creation")
						}
						return
					}
					if first && wr.Created {
						first = false
						createdc <- nil
						continue
					}
					if err := wr.Err(); err != nil {
						if first {
							first = false
							createdc <- err
						}
						continue
					}
					now := time.Now().UnixNano()
					for _, ev := range wr.Events {
						if ev.Type == clientv3.EventTypePut {
							a.event(ev.Kv.ModRevision, ev.Kv.Value, now)
						}
					}
				}
			}
		}()
	}
	timeout := time.After(60 * time.Second)
	for j := 0; j < *watchers; j++ {
		select {
		case err := <-createdc:
			if err != nil {
				die(1, "watch: creating watcher: %v", err)
			}
		case <-timeout:
			die(1, "watch: only %d of %d watchers established after 60s", j, *watchers)
		}
	}
	setup := time.Since(t0).Seconds()

	// revision before the first put: events above it are the run's
	ctx, cancel := context.WithTimeout(bg, *opTimeout)
	gr, err := cl[0].Get(ctx, "watch/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		die(1, "watch: base revision: %v", err)
	}
	watchBase = gr.Header.Revision

	leader := etcdLeader(cl[0], eps)
	cpu := startCPU(pids)
	start := time.Now()
	pr := runPutter(start, func(i int64, k int, v []byte) error {
		ctx, cancel := context.WithTimeout(bg, *opTimeout)
		defer cancel()
		_, err := cl[i%int64(len(cl))].Put(ctx, keys[k], string(v)) // round-robin over endpoints
		return err
	})
	cpuCores := cpu.cores(pr.wall)
	created := int64(-1)
	ctx, cancel = context.WithTimeout(bg, *opTimeout)
	if gr, err := cl[0].Get(ctx, "watch/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err == nil {
		created = gr.Header.Revision - watchBase // only our putter writes during the run
	}
	cancel()
	end := waitDelivery(accs, deliveryTarget(pr.ok, created))
	close(stop)
	wwg.Wait()

	res := etcdBaseResult(eps, leader)
	fillWatch(res, pr, accs, start, end, setup, created, "")
	res["cpu_cores"] = cpuCores
	printResult(res)
	wcancel()
	for _, c := range cl {
		c.Close()
	}
}
