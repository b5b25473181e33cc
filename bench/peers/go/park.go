// park.go: bench/park.cpp in Go. N goroutines check in on a WaitGroup and
// park on a gate; bytes per goroutine are the VmRSS + VmPTE delta.
//
//	go build -o park park.go common.go && ./park [N]   (default 1,000,000)
package main

import (
	"runtime"
	"sync"
	"time"
)

func main() {
	n := sizeArg(1000000)
	var started, gate, finished sync.WaitGroup
	gate.Add(1)
	before := residentWithPageTables()
	t0 := time.Now()
	c0 := cpuSeconds()
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			gate.Wait()
			finished.Done()
		}()
	}
	started.Wait()
	spawn := time.Since(t0)
	spawnCPU := cpuSeconds() - c0
	after := residentWithPageTables()
	t1 := time.Now()
	c1 := cpuSeconds()
	gate.Done()
	finished.Wait()
	wake := time.Since(t1)
	wakeCPU := cpuSeconds() - c1
	dn := float64(n)
	metric("goroutines", dn)
	metric("bytes_per_goroutine", float64(after-before)/dn)
	metric("spawn_ns_per_goroutine", float64(spawn.Nanoseconds())/dn)
	metric("wake_join_ns_per_goroutine", float64(wake.Nanoseconds())/dn)
	metric("spawn_cpu_ns_per_goroutine", spawnCPU*1e9/dn)
	metric("wake_join_cpu_ns_per_goroutine", wakeCPU*1e9/dn)
	metric("maxprocs", float64(runtime.GOMAXPROCS(0)))
}
