// Cabildo's extra zkbench modes (built next to the ZooKeeper anchor's unmodified main.go):
//
//	mixed  closed loop; each op is Set with probability 0.5, else sync+getData (as sync-get)
//	watch  not supported: exits 3 (see zkWatchUnsupported)
//
// main.go rejects unknown modes, so init() handles these two and exits before main() runs.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/samuel/go-zookeeper/zk"
)

const zkWatchUnsupported = `zkbench: --mode watch is not supported for ZooKeeper.
The Debian go-zookeeper client (github.com/samuel/go-zookeeper, git 2018-01-30) has no
persistent recursive watches (ZooKeeper 3.6+ addWatch(PERSISTENT_RECURSIVE)); it only has
one-shot watches (GetW/ChildrenW/ExistsW) that fire once and must be re-armed per znode, so
writes between the trigger and the re-arm are never notified. That is a different workload
from etcd's prefix watch / NATS KV watch (every event delivered to every watcher), so no
numbers are produced rather than incomparable ones.`

func init() {
	addModesToUsage("mixed (Cabildo addition; watch: unsupported, exits 3)")
	flag.Parse()
	switch *mode {
	case "mixed":
		zkMixed()
		os.Exit(0)
	case "watch":
		fmt.Fprintln(os.Stderr, zkWatchUnsupported)
		os.Exit(3)
	}
}

func zkMixed() {
	eps := strings.Split(*endpoints, ",")
	pids := parsePids()
	defaultConns()
	cl := make([]*zk.Conn, *conns)
	for i := range cl {
		s := eps
		if *pin {
			s = []string{eps[i%len(eps)]}
		}
		c, err := connect(s) // main.go's helper: session established, events drained
		if err != nil {
			die(1, "connect: %v", err)
		}
		cl[i] = c
	}
	keys := make([]string, *keySpace)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s/key-%06d", *root, i)
	}
	val := []byte(strings.Repeat("v", *valSize))
	acl := zk.WorldACL(zk.PermAll)
	if *prefill { // create (or, if present, Set) every key once: puts need existing znodes
		if _, err := cl[0].Create(*root, nil, 0, acl); err != nil && err != zk.ErrNodeExists {
			die(1, "create root: %v", err)
		}
		next := make(chan int, len(keys))
		for i := range keys {
			next <- i
		}
		close(next)
		var wg sync.WaitGroup
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func(c *zk.Conn) {
				defer wg.Done()
				for i := range next {
					_, err := c.Create(keys[i], val, 0, acl)
					if err == zk.ErrNodeExists {
						_, err = c.Set(keys[i], val, -1)
					}
					if err != nil {
						die(1, "prefill: %v", err)
					}
				}
			}(cl[w%len(cl)])
		}
		wg.Wait()
	}

	leader, version := "", ""
	modes := map[string]string{}
	for _, e := range eps {
		out, err := fourLW(e, "srvr")
		if err != nil {
			modes[e] = "error: " + err.Error()
			continue
		}
		modes[e] = srvrField(out, "Mode")
		if modes[e] == "leader" {
			leader = e
		}
		if version == "" {
			version = srvrField(out, "Zookeeper version")
		}
	}
	srvSync := map[string]string{}
	for e, p := range pids {
		srvSync[e] = serverSync(p)
	}
	var notFound int64
	cpu := startCPU(pids)
	r := runMixed(keys, func(w int, k string, isPut bool) error {
		c := cl[w%len(cl)]
		if isPut {
			_, err := c.Set(k, val, -1)
			return err
		}
		if _, err := c.Sync(k); err != nil && err != zk.ErrNoNode {
			return err
		}
		_, _, err := c.Get(k)
		if err == zk.ErrNoNode { // only without --prefill
			atomic.AddInt64(&notFound, 1)
			return nil
		}
		return err
	})
	res := map[string]interface{}{
		"label": *label, "mode": *mode, "clients": *clients, "conns": *conns, "pin": *pin,
		"val_size": *valSize, "key_space": *keySpace, "leader_at_start": leader, "endpoints": eps,
		"system": "zookeeper", "server_version": version, "client": "github.com/samuel/go-zookeeper (2018-01-30)",
		"server_modes": modes, "server_sync": srvSync, "not_found": notFound,
	}
	r.fill(res, "sync+getData (sync-get)")
	res["cpu_cores"] = cpu.cores(r.wall)
	printResult(res)
	for _, c := range cl {
		c.Close()
	}
}
