// buffered.go: bench/chan/buffered.cpp in Go: buffered channel throughput
// (capacity 128), one producer and one consumer, then four and four.
//
//	go build -o buffered buffered.go common.go && ./buffered [N]   (default 10,000,000)
package main

import (
	"runtime"
	"sync"
)

var sink int

func transfer(n, producers, consumers int) {
	ch := make(chan int, 128)
	var sent, received sync.WaitGroup
	for p := 0; p < producers; p++ {
		sent.Add(1)
		go func(count int) {
			defer sent.Done()
			for i := 0; i < count; i++ {
				ch <- i
			}
		}(n / producers)
	}
	var mu sync.Mutex
	for c := 0; c < consumers; c++ {
		received.Add(1)
		go func() {
			defer received.Done()
			sum := 0
			for v := range ch {
				sum += v
			}
			mu.Lock()
			sink += sum
			mu.Unlock()
		}()
	}
	sent.Wait()
	close(ch)
	received.Wait()
}

func main() {
	n := sizeArg(10000000)
	measure("buffered_1x1", n, func(n int) { transfer(n, 1, 1) })
	measure("buffered_4x4", n, func(n int) { transfer(n, 4, 4) })
	metric("maxprocs", float64(runtime.GOMAXPROCS(0)))
}
