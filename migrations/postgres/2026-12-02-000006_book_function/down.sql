DROP FUNCTION book_first_free;
