package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// caught holds the first SIGINT or SIGTERM the process received (0: none).
var caught atomic.Int32

// caughtSignal returns the first SIGINT or SIGTERM the process received
// (0: none).
func caughtSignal() syscall.Signal { return syscall.Signal(caught.Load()) }

// signalName is "SIGINT", "SIGTERM", or the signal's description.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// listenSignals returns a context that the first SIGINT or SIGTERM cancels,
// after recording the signal for caughtSignal, and a function that stops
// listening. A second signal ends the process at once with one line and
// exit code 128+signal, whatever it is doing (a checkpoint save included:
// saves are atomic, so at most a temporary file is left behind).
func listenSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		var s os.Signal
		select {
		case s = <-ch:
		case <-ctx.Done():
			return
		}
		sig, _ := s.(syscall.Signal)
		caught.Store(int32(sig))
		cancel()
		s = <-ch
		sig, _ = s.(syscall.Signal)
		fmt.Fprintf(os.Stderr, "goqat: %s again: stopping now\n", signalName(sig))
		os.Exit(128 + int(sig))
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel()
	}
}

// stopGrace is how long a command that keeps no state (eval, bench,
// inspect, convert, export, import, demo) has after SIGINT or SIGTERM to
// return by itself before the process ends anyway. The work checks its
// context between batches and between ops, but one layer of a large float
// model can run for seconds.
const stopGrace = 300 * time.Millisecond

// writing is held while a command writes an output file (saveOutput): the
// process does not end on a signal while it is held, so that no file is
// left half-written or as a stray temporary file.
var writing sync.Mutex

// stopOnce makes sure one goroutine reports the interruption.
var stopOnce sync.Once

// runStoppable runs work with the command's context, which SIGINT and
// SIGTERM cancel (listenSignals). After a signal the process ends with one
// line ("goqat: eval interrupted by SIGTERM") and exit code 128+signal (130
// for SIGINT, 143 for SIGTERM) as soon as work returns, or after stopGrace
// if it has not, once any output file being written is complete.
func runStoppable(cmd *cobra.Command, work func(ctx context.Context) error) error {
	ctx := cmd.Context()
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		if caughtSignal() == 0 {
			return
		}
		select {
		case <-done:
		case <-time.After(stopGrace):
		}
		exitInterrupted(cmd.Name())
	}()
	err := work(ctx)
	close(done)
	if caughtSignal() != 0 {
		exitInterrupted(cmd.Name())
	}
	return err
}

// exitInterrupted waits for an output file being written, prints the
// interruption and ends the process with exit code 128+signal.
func exitInterrupted(command string) {
	stopOnce.Do(func() {
		writing.Lock() // never released: the process ends
		sig := caughtSignal()
		fmt.Fprintf(os.Stderr, "goqat: %s interrupted by %s\n", command, signalName(sig))
		os.Exit(128 + int(sig))
	})
}

// saveOutput runs save, which writes one output file, unless a signal has
// been received (then it returns context.Canceled and writes nothing); a
// signal arriving meanwhile ends the process only after save returns.
func saveOutput(save func() error) error {
	writing.Lock()
	defer writing.Unlock()
	if caughtSignal() != 0 {
		return context.Canceled
	}
	return save()
}
