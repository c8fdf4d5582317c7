package governord

// RuntimeEndpoint exposes runtimeEndpoint to the tests.
var RuntimeEndpoint = runtimeEndpoint
