module github.com/graveyard-db/graveyard/sdk-go

go 1.23

require github.com/graveyard-db/graveyard/sdk-go/native/linux_amd64 v0.1.0

// In this repository the platform module is the folder beside; a user's build ignores this line
// and downloads the published version.
replace github.com/graveyard-db/graveyard/sdk-go/native/linux_amd64 => ./native/linux_amd64
