# expect
ARG GITHUB_TOKEN=ghp_Zq3xR7vK2mT9wY4bN8cJ5hL1dF6gS0aE3uIo
FROM node:22.11
# expect
ENV NODE_ENV=production \
    DB_PASSWORD="Tr0ub4dor&3"
# expect
ENV DATABASE_URL postgres://app:S3cure-pw@db:5432/app
# expect
ARG STRIPE_API_KEY=abcdef123456
# expect
ONBUILD ENV SERVICE_TOKEN=f00dfeedcafe
USER 1000
