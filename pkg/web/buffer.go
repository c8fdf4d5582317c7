package web

import (
	"bytes"
	"sync"
)

// maxPooledBuffer is the largest page buffer kept for the next page: a
// page of the long lists (a few hundred kilobytes) is kept, an outsized
// one is left to the collector rather than held for good.
const maxPooledBuffer = 1 << 20

// bufferPool keeps the buffers pages are rendered into. A page is
// rendered whole before it is sent (a template error is then a 500, not
// half a page); without the pool each render's buffer, grown by doubling
// to the page's size, is garbage the scheduler holds until its next
// collection, and five open pages re-reading themselves multiply it
// (docs/performance.md, the dashboard rows).
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) get() *bytes.Buffer {
	if b, ok := bp.p.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (bp *bufferPool) put(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	bp.p.Put(b)
}
