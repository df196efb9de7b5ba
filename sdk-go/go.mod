module github.com/graveyard-db/graveyard/sdk-go

go 1.23
