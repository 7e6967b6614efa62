/* A Bison parser, made by GNU Bison 3.8.2.  */

/* Bison interface for Yacc-like parsers in C

   Copyright (C) 1984, 1989-1990, 2000-2015, 2018-2021 Free Software Foundation,
   Inc.

   This program is free software: you can redistribute it and/or modify
   it under the terms of the GNU General Public License as published by
   the Free Software Foundation, either version 3 of the License, or
   (at your option) any later version.

   This program is distributed in the hope that it will be useful,
   but WITHOUT ANY WARRANTY; without even the implied warranty of
   MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
   GNU General Public License for more details.

   You should have received a copy of the GNU General Public License
   along with this program.  If not, see <https://www.gnu.org/licenses/>.  */

/* As a special exception, you may create a larger work that contains
   part or all of the Bison parser skeleton and distribute that work
   under terms of your choice, so long as that work isn't itself a
   parser generator using the skeleton or a modified version thereof
   as a parser skeleton.  Alternatively, if you modify or redistribute
   the parser skeleton itself, you may (at your option) remove this
   special exception, which will cause the skeleton and the resulting
   Bison output files to be licensed under the GNU General Public
   License without this special exception.

   This special exception was added by the Free Software Foundation in
   version 2.2 of Bison.  */

/* DO NOT RELY ON FEATURES THAT ARE NOT DOCUMENTED in the manual,
   especially those whose name start with YY_ or yy_.  They are
   private implementation details that can be changed or removed.  */

#ifndef YY_YY_SRC_PARSE_H_INCLUDED
# define YY_YY_SRC_PARSE_H_INCLUDED
/* Debug traces.  */
#ifndef YYDEBUG
# define YYDEBUG 0
#endif
#if YYDEBUG
extern int yydebug;
#endif

/* Token kinds.  */
#ifndef YYTOKENTYPE
# define YYTOKENTYPE
  enum yytokentype
  {
    YYEMPTY = -2,
    YYEOF = 0,                     /* "end of file"  */
    YYerror = 256,                 /* error  */
    YYUNDEF = 257,                 /* "invalid token"  */
    AUTO = 258,                    /* AUTO  */
    CHROOT = 259,                  /* CHROOT  */
    CONNECTIONS = 260,             /* CONNECTIONS  */
    DRAIN = 261,                   /* DRAIN  */
    FACILITY = 262,                /* FACILITY  */
    GATEWAY = 263,                 /* GATEWAY  */
    HOSTS = 264,                   /* HOSTS  */
    HTTP = 265,                    /* HTTP  */
    HTTPS = 266,                   /* HTTPS  */
    IDLE = 267,                    /* IDLE  */
    INCLUDE = 268,                 /* INCLUDE  */
    LISTEN = 269,                  /* LISTEN  */
    LOG = 270,                     /* LOG  */
    MAX = 271,                     /* MAX  */
    ON = 272,                      /* ON  */
    PORT = 273,                    /* PORT  */
    RESOLVER = 274,                /* RESOLVER  */
    TIMEOUT = 275,                 /* TIMEOUT  */
    TLS = 276,                     /* TLS  */
    USER = 277,                    /* USER  */
    WORKERS = 278,                 /* WORKERS  */
    ERROR = 279,                   /* ERROR  */
    STRING = 280,                  /* STRING  */
    NUMBER = 281                   /* NUMBER  */
  };
  typedef enum yytokentype yytoken_kind_t;
#endif
/* Token kinds.  */
#define YYEMPTY -2
#define YYEOF 0
#define YYerror 256
#define YYUNDEF 257
#define AUTO 258
#define CHROOT 259
#define CONNECTIONS 260
#define DRAIN 261
#define FACILITY 262
#define GATEWAY 263
#define HOSTS 264
#define HTTP 265
#define HTTPS 266
#define IDLE 267
#define INCLUDE 268
#define LISTEN 269
#define LOG 270
#define MAX 271
#define ON 272
#define PORT 273
#define RESOLVER 274
#define TIMEOUT 275
#define TLS 276
#define USER 277
#define WORKERS 278
#define ERROR 279
#define STRING 280
#define NUMBER 281

/* Value type.  */
#if ! defined YYSTYPE && ! defined YYSTYPE_IS_DECLARED
union YYSTYPE
{
#line 156 "src/parse.y"

	long long	 number;
	char		*string;

#line 124 "src/parse.h"

};
typedef union YYSTYPE YYSTYPE;
# define YYSTYPE_IS_TRIVIAL 1
# define YYSTYPE_IS_DECLARED 1
#endif

/* Location type.  */
#if ! defined YYLTYPE && ! defined YYLTYPE_IS_DECLARED
typedef struct YYLTYPE YYLTYPE;
struct YYLTYPE
{
  int first_line;
  int first_column;
  int last_line;
  int last_column;
};
# define YYLTYPE_IS_DECLARED 1
# define YYLTYPE_IS_TRIVIAL 1
#endif


extern YYSTYPE yylval;
extern YYLTYPE yylloc;

int yyparse (void);


#endif /* !YY_YY_SRC_PARSE_H_INCLUDED  */
