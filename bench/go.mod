module github.com/gophergate/gate/bench

go 1.25

require (
	github.com/gophergate/gate v0.0.0
	golang.org/x/sync v0.19.0
)

replace github.com/gophergate/gate => ../
