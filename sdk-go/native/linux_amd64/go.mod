module github.com/graveyard-db/graveyard/sdk-go/native/linux_amd64

go 1.23
