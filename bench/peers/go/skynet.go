// skynet.go: bench/skynet.cpp in Go. A tree of goroutines, 10 children per
// inner node, each inner node adding up what its children send on one
// unbuffered channel; with SIZE leaves the sum is SIZE*(SIZE-1)/2.
//
//	go build -o skynet skynet.go common.go && ./skynet [SIZE]   (default 1,000,000)
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

const div = 10

func skynet(out chan<- int, num, size int) {
	if size == 1 {
		out <- num
		return
	}
	results := make(chan int)
	childSize := size / div
	for i := 0; i < div; i++ {
		go skynet(results, num+i*childSize, childSize)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-results
	}
	out <- sum
}

// peakRSSKB returns VmHWM, the process's peak resident set, in KiB (not
// getrusage's Maxrss, which survives execve and may be the parent's).
func peakRSSKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb
		}
	}
	return 0
}

func main() {
	size := sizeArg(1000000)
	tasks := 0
	for level := size; level >= 1; level /= div {
		tasks += level
	}
	if s := size; s > 0 {
		for s%div == 0 {
			s /= div
		}
		if s != 1 {
			fmt.Fprintf(os.Stderr, "skynet: size %d is not a power of %d\n", size, div)
			os.Exit(2)
		}
	}
	t0 := time.Now()
	c0 := cpuSeconds()
	root := make(chan int)
	go skynet(root, 0, size)
	sum := <-root
	wall := time.Since(t0).Seconds()
	cpu := cpuSeconds() - c0
	dt := float64(tasks)
	metric("leaves", float64(size))
	metric("goroutines", dt)
	metric("sum", float64(sum))
	metric("skynet_ms", wall*1e3)
	metric("skynet_cpu_ms", cpu*1e3)
	metric("ns_per_goroutine", wall*1e9/dt)
	metric("cpu_ns_per_goroutine", cpu*1e9/dt)
	metric("peak_rss_kb", float64(peakRSSKB()))
	metric("maxprocs", float64(runtime.GOMAXPROCS(0)))
	if sum != size*(size-1)/2 {
		fmt.Fprintf(os.Stderr, "skynet: wrong sum %d\n", sum)
		os.Exit(1)
	}
}
