ARG BASE=ubuntu
# expect
FROM python:latest AS build
# expect
FROM registry.example.com:5000/team/app
# expect
FROM ${BASE}
