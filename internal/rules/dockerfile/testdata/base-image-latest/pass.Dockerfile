FROM node:22.11-bookworm-slim AS build
# A digest pins the image whatever the tag says.
FROM node:latest@sha256:0000000000000000000000000000000000000000000000000000000000000002 AS other
FROM registry.example.com:5000/team/app:1.4.2
FROM build
FROM scratch
