// spawn.go: bench/spawn.cpp in Go: spawn+join one at a time, in batches of
// 64, and all at once; ns per goroutine.
//
//	go build -o spawn spawn.go common.go && ./spawn [N]   (default 1,000,000)
package main

import (
	"runtime"
	"sync"
	"time"
)

func main() {
	n := sizeArg(1000000)
	dn := float64(n)
	{
		t0 := time.Now()
		c0 := cpuSeconds()
		for i := 0; i < n; i++ {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { wg.Done() }()
			wg.Wait()
		}
		metric("spawn_join_one_ns", float64(time.Since(t0).Nanoseconds())/dn)
		metric("spawn_join_one_cpu_ns", (cpuSeconds()-c0)*1e9/dn)
	}
	{
		const batch = 64
		batches := (n + batch - 1) / batch
		var wg sync.WaitGroup
		t0 := time.Now()
		c0 := cpuSeconds()
		for b := 0; b < batches; b++ {
			wg.Add(batch)
			for i := 0; i < batch; i++ {
				go func() { wg.Done() }()
			}
			wg.Wait()
		}
		metric("spawn_join_batch_ns", float64(time.Since(t0).Nanoseconds())/float64(batches*batch))
		metric("spawn_join_batch_cpu_ns", (cpuSeconds()-c0)*1e9/float64(batches*batch))
	}
	{
		var wg sync.WaitGroup
		t0 := time.Now()
		c0 := cpuSeconds()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
		metric("spawn_join_all_ns", float64(time.Since(t0).Nanoseconds())/dn)
		metric("spawn_join_all_cpu_ns", (cpuSeconds()-c0)*1e9/dn)
	}
	metric("maxprocs", float64(runtime.GOMAXPROCS(0)))
}
