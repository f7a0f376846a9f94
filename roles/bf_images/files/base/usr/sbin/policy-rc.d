#!/bin/sh
# Packages installed during an image build must not start their services.
exit 101
