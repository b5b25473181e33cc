// pingpong.go: bench/chan/pingpong.cpp in Go: two goroutines bouncing a
// value over two unbuffered channels; the time of one round trip.
//
//	go build -o pingpong pingpong.go common.go && ./pingpong [N]   (default 2,000,000)
package main

import (
	"runtime"
	"time"
)

func bounce(ping, pong chan int, n int) {
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
}

func main() {
	n := sizeArg(2000000)
	ping, pong := make(chan int), make(chan int)
	warmup := n/10 + 1
	go func() {
		for i := 0; i < warmup+n; i++ {
			pong <- <-ping
		}
	}()
	bounce(ping, pong, warmup)
	t0 := time.Now()
	c0 := cpuSeconds()
	bounce(ping, pong, n)
	metric("pingpong_rt_ns", float64(time.Since(t0).Nanoseconds())/float64(n))
	metric("pingpong_rt_cpu_ns", (cpuSeconds()-c0)*1e9/float64(n))
	metric("maxprocs", float64(runtime.GOMAXPROCS(0)))
}
