"""Where the pipeline's lines go: files, devices, FIFOs, sockets and stdout, opened safely."""
