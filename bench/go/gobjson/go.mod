module sessionspec/bench/gobjson

go 1.19
