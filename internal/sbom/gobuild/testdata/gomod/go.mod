module example.com/palisade/gobin

go 1.26

require (
	example.com/palisade/local v0.0.0
	github.com/google/uuid v1.6.0
)

replace example.com/palisade/local => ./local
