// Package main: bench/chan/go, the Go versions of goro's channel, select and
// timer benchmarks (bench/chan/*.cpp). Each program is built on its own:
//
//	go build -o pingpong pingpong.go common.go
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSeconds returns the process's CPU time (all threads, user + system).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

// sizeArg parses os.Args[1] (accepts 1e6, 64k, 2M), else returns fallback.
func sizeArg(fallback int) int {
	if len(os.Args) < 2 {
		return fallback
	}
	a := os.Args[1]
	mult := 1.0
	switch {
	case strings.HasSuffix(a, "k"), strings.HasSuffix(a, "K"):
		mult, a = 1e3, a[:len(a)-1]
	case strings.HasSuffix(a, "m"), strings.HasSuffix(a, "M"):
		mult, a = 1e6, a[:len(a)-1]
	}
	v, err := strconv.ParseFloat(a, 64)
	if err != nil || v*mult < 1 {
		fmt.Fprintf(os.Stderr, "usage: %s [size >= 1]\n", os.Args[0])
		os.Exit(2)
	}
	return int(v * mult)
}

func metric(name string, value float64) { fmt.Printf("%s=%.6g\n", name, value) }

// measure runs f(n/10) to warm up, then f(n), and prints name_ns and
// name_cpu_ns per operation.
func measure(name string, n int, f func(int)) {
	f(n / 10)
	t0 := time.Now()
	c0 := cpuSeconds()
	f(n)
	metric(name+"_ns", float64(time.Since(t0).Nanoseconds())/float64(n))
	metric(name+"_cpu_ns", (cpuSeconds()-c0)*1e9/float64(n))
}
