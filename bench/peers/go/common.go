// Package main: bench/peers/go, the Go versions of goro's whole-program
// benchmarks (bench/park.cpp, bench/spawn.cpp, bench/deep.cpp). Each program
// is built on its own: go build -o park park.go common.go
package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// residentWithPageTables returns VmRSS + VmPTE of this process in bytes.
func residentWithPageTables() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmPTE:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				kb, _ := strconv.ParseInt(fields[1], 10, 64)
				total += kb * 1024
			}
		}
	}
	return total
}

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

// metric prints a `name=value` line, integers without an exponent.
func metric(name string, value float64) {
	if value == math.Trunc(value) && math.Abs(value) < 1e15 {
		fmt.Printf("%s=%.0f\n", name, value)
		return
	}
	fmt.Printf("%s=%.6g\n", name, value)
}
