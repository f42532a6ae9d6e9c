package vulndb

import (
	"context"
	"runtime"
	"sync"
)

// maxDecodeWorkers bounds decodeAhead's workers.
const maxDecodeWorkers = 4

// decodeAhead runs an import's decoding in parallel with its single
// writer while keeping the source's order, so that the database written
// is the same as a sequential read would write (the last record of an ID
// wins, errors are reported in order).
//
// produce reads the source in order and emits batches of raw items (it
// alone touches the reader: a gzip stream, a zip's directory); decode
// turns a batch into its results on one of the worker goroutines (it
// must not share state with other batches); consume is called with the
// results of each batch, in the order produce emitted them, on the
// calling goroutine (the database builder is not safe for concurrent
// use). At most queue batches are in flight, which, with the producer's
// bound on a batch's bytes, bounds the memory held ahead of the writer.
//
// The first error of produce, decode's caller or consume stops the others
// and is returned; a cancelled ctx stops everything.
func decodeAhead[B, R any](ctx context.Context, produce func(ctx context.Context, emit func(B) error) error,
	decode func(B) R, consume func(R) error) error {
	workers := max(1, min(runtime.GOMAXPROCS(0), maxDecodeWorkers))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		batch B
		out   chan R
	}
	jobs := make(chan job)
	// ordered carries each batch's result channel in production order; its
	// capacity is how far decoding may run ahead of the writer.
	ordered := make(chan chan R, 2*workers)

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- decode(j.batch) // buffered: never blocks
			}
		}()
	}
	prodErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(jobs)
		prodErr <- produce(ctx, func(b B) error {
			out := make(chan R, 1)
			select {
			case ordered <- out:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{b, out}:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
	}()

	var err error
	for out := range ordered {
		if err != nil {
			continue // drain, so that the producer can finish
		}
		var r R
		select {
		case r = <-out:
		case <-ctx.Done():
			err = ctx.Err()
			continue
		}
		if err = consume(r); err != nil {
			cancel()
		}
	}
	wg.Wait()
	if perr := <-prodErr; err == nil {
		err = perr
	}
	return err
}

// bufferPool recycles the buffers of one read's batches: a batch's bytes
// are garbage once the writer (or, for NVD items, the decoder) is done
// with them, and an import reads a gigabyte of them. It belongs to one
// read, so nothing outlives the import. It keeps at most 8 buffers of
// at most maxKeep bytes each: a buffer made for one outsized item is
// left to the collector rather than kept for the rest of the read.
type bufferPool struct {
	free    chan []byte
	maxKeep int
}

func newBufferPool(maxKeep int) bufferPool {
	return bufferPool{free: make(chan []byte, 8), maxKeep: maxKeep}
}

// get returns an empty buffer of capacity at least n.
func (p bufferPool) get(n int) []byte {
	select {
	case b := <-p.free:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, n)
}

// put gives a buffer back; its bytes must no longer be referenced.
func (p bufferPool) put(b []byte) {
	if cap(b) > p.maxKeep {
		return
	}
	select {
	case p.free <- b:
	default:
	}
}
