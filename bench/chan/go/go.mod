module goro.bench/chan

// 1.23: the synchronous timer channels goro's timers follow (with an older
// go line, Go 1.23 keeps the old asynchronous timers: GODEBUG asynctimerchan).
go 1.23
