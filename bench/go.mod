module github.com/gophergate/gate/bench

go 1.25

require (
	github.com/gophergate/gate v0.0.0
	golang.org/x/sync v0.19.0
)

require github.com/puzpuzpuz/xsync/v4 v4.5.0

replace github.com/gophergate/gate => ../
