// deep.go: bench/deep.cpp in Go. One goroutine recurses MB deep with ~1 KiB
// frames, twice, then parks and recurses again. Go grows a stack by
// allocating one twice as big and copying (and adjusting pointers into it);
// it shrinks stacks only during garbage collection, which the program runs
// before the last, regrowing, recursion.
//
//	go build -o deep deep.go common.go && ./deep [MB]   (default 64)
//
// resident_*_kb are runtime.MemStats.StackInuse (Go's own accounting).
package main

import (
	"runtime"
	"runtime/debug"
	"time"
	"unsafe"
)

var takePeak bool
var peak runtime.MemStats

// top is a real pointer into this goroutine's stack, so Go adjusts it when
// the stack is copied; the distance to buf is the stack in use.
//
//go:noinline
func recurse(top *byte, target uintptr) int {
	var buf [1024]byte
	buf[0] = 1
	buf[len(buf)-1] = 2
	used := uintptr(unsafe.Pointer(top)) - uintptr(unsafe.Pointer(&buf[0]))
	if used >= target {
		if takePeak {
			runtime.ReadMemStats(&peak)
		}
		return int(buf[0])
	}
	return recurse(top, target) + int(buf[len(buf)-1])
}

var sink int

// timedRecursion returns wall and process CPU milliseconds.
func timedRecursion(bytes uintptr) (float64, float64) {
	var anchor byte
	t0 := time.Now()
	c0 := cpuSeconds()
	sink += recurse(&anchor, bytes)
	return float64(time.Since(t0).Nanoseconds()) / 1e6, (cpuSeconds() - c0) * 1e3
}

func stackInuseKB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.StackInuse) / 1024
}

func main() {
	mb := sizeArg(64)
	bytes := uintptr(mb) << 20
	pages := float64(bytes / 4096)
	debug.SetMaxStack(int(bytes) * 4)
	done := make(chan struct{})
	go func() {
		before := stackInuseKB()
		first, firstCPU := timedRecursion(bytes)
		second, secondCPU := timedRecursion(bytes)
		takePeak = true
		timedRecursion(bytes)
		takePeak = false
		time.Sleep(time.Millisecond)
		parked := stackInuseKB()
		afterPark, _ := timedRecursion(bytes)
		// Parked while main collects garbage until the stack is shrunk (Go
		// halves a mostly unused stack at each collection), then regrown.
		shrinkReq <- struct{}{}
		longParked := <-shrunk
		afterShrink, afterShrinkCPU := timedRecursion(bytes)
		dmb := float64(mb)
		metric("depth_mb", dmb)
		metric("first_ms_per_mb", first/dmb)
		metric("second_ms_per_mb", second/dmb)
		metric("after_park_ms_per_mb", afterPark/dmb)
		metric("growth_ns_per_page", (first-second)*1e6/pages)
		metric("first_cpu_ms_per_mb", firstCPU/dmb)
		metric("second_cpu_ms_per_mb", secondCPU/dmb)
		metric("growth_cpu_ns_per_page", (firstCPU-secondCPU)*1e6/pages)
		metric("resident_before_kb", before)
		metric("resident_peak_kb", float64(peak.StackInuse)/1024)
		metric("resident_after_park_kb", parked)
		metric("resident_after_long_park_kb", longParked)
		metric("after_shrink_ms_per_mb", afterShrink/dmb)
		metric("after_shrink_cpu_ms_per_mb", afterShrinkCPU/dmb)
		close(done)
	}()
	<-shrinkReq
	shrunk <- collectUntilStacksShrink()
	<-done
}

var shrinkReq = make(chan struct{})
var shrunk = make(chan float64)

// collectUntilStacksShrink runs garbage collections until StackInuse stops
// falling (three in a row unchanged, at most 64) and returns it in KiB.
func collectUntilStacksShrink() float64 {
	last, same := stackInuseKB(), 0
	for i := 0; i < 64 && same < 3; i++ {
		runtime.GC()
		now := stackInuseKB()
		if now == last {
			same++
		} else {
			same = 0
		}
		last = now
	}
	return last
}
