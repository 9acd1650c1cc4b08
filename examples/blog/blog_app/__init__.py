"""A blog API: users, posts, S3 profile pictures and password-reset mail."""
