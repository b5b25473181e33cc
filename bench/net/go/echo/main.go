// bench/net/go/echo/main.go: the Go peer of examples/echo_server.cpp.
//
// The idiomatic Go echo server: one goroutine per connection with a 4 KiB
// read buffer (the reference's advice), a read deadline `idle` ahead of
// every read, and an exit on SIGINT/SIGTERM. Prints
// "echo_server: listening on ADDR" like the goro server, so bench/net/run.sh
// drives both the same way.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func handle(c net.Conn, idle time.Duration) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("addr", ":7007", "listen address")
	idle := flag.Duration("idle-timeout", 30*time.Second, "idle timeout")
	flag.Duration("grace", 5*time.Second, "accepted for compatibility")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_server:", err)
		os.Exit(1)
	}
	fmt.Printf("echo_server: listening on %s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c, *idle)
		}
	}()
	<-sig
	ln.Close()
}
