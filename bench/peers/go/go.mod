module goro.bench/peers

go 1.19
