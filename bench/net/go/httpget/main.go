// bench/net/go/httpget/main.go: the Go peer of examples/http_get.cpp.
//
// Sends -requests GETs for URL from -conns goroutines over one
// http.Transport limited to -conns connections to the host (idle ones kept),
// reading every body to the end so connections are reused. Prints the same
// summary lines as http_get, plus the process's CPU time per request
// (user + system, from getrusage). Exits 1 if any request failed.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	conns := flag.Int("conns", 1, "connections (and concurrent requests)")
	requests := flag.Int64("requests", 1, "requests in all")
	flag.Parse()
	url := flag.Arg(0)
	tr := &http.Transport{MaxConnsPerHost: *conns, MaxIdleConnsPerHost: *conns, MaxIdleConns: *conns}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next, failed atomic.Int64
	lat := make([][]time.Duration, *conns)
	var wg sync.WaitGroup
	cpu0 := cpu()
	start := time.Now()
	for w := 0; w < *conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for next.Add(1) <= *requests {
				t0 := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 400 {
						err = fmt.Errorf("%s", resp.Status)
					}
				}
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					failed.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	used := cpu() - cpu0
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		i := int(p * float64(len(all)))
		if i >= len(all) {
			i = len(all) - 1
		}
		return float64(all[i].Microseconds()) / 1000
	}
	n := float64(*requests)
	fmt.Printf("requests:    %d in %.3f s, %.0f req/s, %d failed\n", *requests, elapsed.Seconds(), n/elapsed.Seconds(), failed.Load())
	fmt.Printf("latency ms:  min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", float64(all[0].Microseconds())/1000, pct(0.5), pct(0.9), pct(0.99), float64(all[len(all)-1].Microseconds())/1000)
	fmt.Printf("cpu:         %.2f us/request\n", float64(used.Nanoseconds())/1000/n)
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
