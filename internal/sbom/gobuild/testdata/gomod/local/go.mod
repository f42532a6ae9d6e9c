module example.com/palisade/local

go 1.26
