// timer.go: bench/chan/timer.cpp in Go: timer churn (start+stop, reset) and
// timers that fire (100 goroutines each waiting on time.After(20us) in turn).
//
//	go build -o timer timer.go common.go && ./timer [N]   (default 2,000,000)
package main

import (
	"runtime"
	"sync"
	"time"
)

func startStop(n int) {
	for i := 0; i < n; i++ {
		time.NewTimer(time.Hour).Stop()
	}
}

func reset(n int) {
	t := time.NewTimer(time.Hour)
	for i := 0; i < n; i++ {
		t.Reset(time.Hour)
	}
	t.Stop()
}

func fire(n int) {
	const goroutines = 100
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(count int) {
			defer wg.Done()
			for i := 0; i < count; i++ {
				<-time.After(20 * time.Microsecond)
			}
		}(n / goroutines)
	}
	wg.Wait()
}

func main() {
	n := sizeArg(2000000)
	measure("timer_start_stop", n, startStop)
	measure("timer_reset", n, reset)
	measure("timer_fire", n/20, fire)
	metric("maxprocs", float64(runtime.GOMAXPROCS(0)))
}
