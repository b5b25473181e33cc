// select.go: bench/chan/select.cpp in Go: select over 2, 4 and 8 channels,
// all ready (the case puts the value back), and fed by one producer per
// channel.
//
//	go build -o select select.go common.go && ./select [N]   (default 2,000,000)
package main

import (
	"runtime"
	"sync"
)

func chans(k, capacity int) []chan int {
	cs := make([]chan int, k)
	for i := range cs {
		cs[i] = make(chan int, capacity)
	}
	return cs
}

// sel runs one select over the k channels of cs; a case puts the value back
// when refill.
func sel(cs []chan int, refill bool) {
	switch len(cs) {
	case 2:
		select {
		case v := <-cs[0]:
			if refill {
				cs[0] <- v
			}
		case v := <-cs[1]:
			if refill {
				cs[1] <- v
			}
		}
	case 4:
		select {
		case v := <-cs[0]:
			if refill {
				cs[0] <- v
			}
		case v := <-cs[1]:
			if refill {
				cs[1] <- v
			}
		case v := <-cs[2]:
			if refill {
				cs[2] <- v
			}
		case v := <-cs[3]:
			if refill {
				cs[3] <- v
			}
		}
	case 8:
		select {
		case v := <-cs[0]:
			if refill {
				cs[0] <- v
			}
		case v := <-cs[1]:
			if refill {
				cs[1] <- v
			}
		case v := <-cs[2]:
			if refill {
				cs[2] <- v
			}
		case v := <-cs[3]:
			if refill {
				cs[3] <- v
			}
		case v := <-cs[4]:
			if refill {
				cs[4] <- v
			}
		case v := <-cs[5]:
			if refill {
				cs[5] <- v
			}
		case v := <-cs[6]:
			if refill {
				cs[6] <- v
			}
		case v := <-cs[7]:
			if refill {
				cs[7] <- v
			}
		}
	}
}

func ready(k int) func(int) {
	return func(n int) {
		cs := chans(k, 1)
		for _, c := range cs {
			c <- 0
		}
		for i := 0; i < n; i++ {
			sel(cs, true)
		}
	}
}

func prodcons(k int) func(int) {
	return func(n int) {
		cs := chans(k, 0)
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func(c chan int, count int) {
				defer wg.Done()
				for i := 0; i < count; i++ {
					c <- i
				}
			}(c, n/k)
		}
		total := n / k * k
		for i := 0; i < total; i++ {
			sel(cs, false)
		}
		wg.Wait()
	}
}

func main() {
	n := sizeArg(2000000)
	measure("select2_ready", n, ready(2))
	measure("select4_ready", n, ready(4))
	measure("select8_ready", n, ready(8))
	measure("select2_prodcons", n, prodcons(2))
	measure("select4_prodcons", n, prodcons(4))
	measure("select8_prodcons", n, prodcons(8))
	metric("maxprocs", float64(runtime.GOMAXPROCS(0)))
}
