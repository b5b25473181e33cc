// switch.go: bench/switch.cpp in Go, with GOMAXPROCS=1: two goroutines
// calling runtime.Gosched N times each, then N/10 round trips of a
// sync.WaitGroup ping-pong, then N/10 round trips over two sync.Mutexes used
// as binary semaphores.
//
//	go build -o switch switch.go common.go && ./switch [N]   (default 10,000,000)
package main

import (
	"runtime"
	"sync"
	"time"
)

func main() {
	n := sizeArg(10000000)
	trips := n / 10 // round trips of each ping-pong
	if trips < 1 {
		trips = 1
	}
	runtime.GOMAXPROCS(1)
	{
		var done sync.WaitGroup
		done.Add(1)
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			done.Done()
		}()
		t0 := time.Now()
		c0 := cpuSeconds()
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		done.Wait()
		switches := 2 * float64(n)
		metric("switch_ns", float64(time.Since(t0).Nanoseconds())/switches)
		metric("switch_cpu_ns", (cpuSeconds()-c0)*1e9/switches)
	}
	{
		var ping, pong, done sync.WaitGroup
		ping.Add(1)
		done.Add(1)
		go func() {
			for i := 0; i < trips; i++ {
				ping.Wait()
				ping.Add(1)
				pong.Done()
			}
			done.Done()
		}()
		t0 := time.Now()
		c0 := cpuSeconds()
		for i := 0; i < trips; i++ {
			pong.Add(1)
			ping.Done()
			pong.Wait()
		}
		done.Wait()
		dt := float64(trips)
		metric("pingpong_ns", float64(time.Since(t0).Nanoseconds())/dt)
		metric("pingpong_cpu_ns", (cpuSeconds()-c0)*1e9/dt)
	}
	{
		// Both start locked; Go lets another goroutine unlock a Mutex.
		var ping, pong sync.Mutex
		var done sync.WaitGroup
		ping.Lock()
		pong.Lock()
		done.Add(1)
		go func() {
			for i := 0; i < trips; i++ {
				ping.Lock()
				pong.Unlock()
			}
			done.Done()
		}()
		t0 := time.Now()
		c0 := cpuSeconds()
		for i := 0; i < trips; i++ {
			ping.Unlock()
			pong.Lock()
		}
		done.Wait()
		dt := float64(trips)
		metric("mutex_pingpong_ns", float64(time.Since(t0).Nanoseconds())/dt)
		metric("mutex_pingpong_cpu_ns", (cpuSeconds()-c0)*1e9/dt)
	}
	metric("maxprocs", float64(runtime.GOMAXPROCS(0)))
}
